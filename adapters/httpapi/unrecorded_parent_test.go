package httpapi_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestParentUnknownToTheRepository: a parent the token store holds but the
// repository does not gets no child. Gafaelfawr's token cache meets an
// IntegrityError writing the child's subtoken row and answers with an
// invalid_token challenge that names the kind of child it was creating.
func TestParentUnknownToTheRepository(t *testing.T) {
	for query, kind := range map[string]string{
		"notebook=true": "notebook",
		"delegate_to=portal&delegate_scope=read:all": "internal",
	} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, options{})
			token, err := domain.NewToken(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			now := f.clock.Now()
			if err := f.store.Store(context.Background(), domain.TokenData{
				Token: token, Username: "alice", Type: domain.TokenTypeSession,
				Scopes: domain.CanonicalScopes([]string{"read:all"}), Created: now, Expires: now.Add(time.Hour),
			}); err != nil {
				t.Fatal(err)
			}
			f.remember(token.Secret)
			resp, _ := f.delegate(t, token, query)
			msg := "Integrity error creating " + kind + " token"
			want := `Bearer realm="tokencache", error="invalid_token", error_description="` + msg + `"`
			wantBody := `{"detail": [{"msg": "` + msg + `", "type": "invalid_token"}]}`
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want ||
				resp.Header.Get("X-Error-Body") != wantBody || resp.Header.Get("X-Error-Status") != "401" {
				t.Fatalf("status %d, WWW-Authenticate %q, X-Error-Status %q, X-Error-Body %q; want 401, %q and %q",
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("X-Error-Status"),
					resp.Header.Get("X-Error-Body"), want, wantBody)
			}
		})
	}
}
