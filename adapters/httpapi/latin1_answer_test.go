package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Starlette writes a header's value in latin-1, one byte a character, so
// Gafaelfawr sends the username, the email and the service of the token
// store that way,
// and an application behind it reads them back as latin-1. A value beyond
// latin-1, which Starlette cannot write (Gafaelfawr answers 500), goes as
// its UTF-8.
func TestAnswerHeadersAreLatin1AsStarletteWritesThem(t *testing.T) {
	for _, tt := range []struct {
		name, user, email, service   string
		wantUser, wantEmail, wantSvc string
	}{
		{"ASCII", "jose", "jose@example.org", "portal", "jose", "jose@example.org", "portal"},
		{"latin-1", "josé", "josé@example.org", "café", "jos\xe9", "jos\xe9@example.org", "caf\xe9"},
		{"beyond latin-1", "łukasz", "łukasz@example.org", "łódź", "łukasz", "łukasz@example.org", "łódź"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			alice := f.mintParentWith(t, tt.user, parentScopes, time.Hour, func(d *domain.TokenData) {
				d.Email = tt.email
				d.Service = tt.service
			})
			resp := f.overTheWire(t, fmt.Sprintf("Bearer %s", alice.String()))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("X-Auth-Request-User"); got != tt.wantUser {
				t.Errorf("X-Auth-Request-User = %q, want %q", got, tt.wantUser)
			}
			if got := resp.Header.Get("X-Auth-Request-Email"); got != tt.wantEmail {
				t.Errorf("X-Auth-Request-Email = %q, want %q", got, tt.wantEmail)
			}
			if got := resp.Header.Get("X-Auth-Request-Service"); got != tt.wantSvc {
				t.Errorf("X-Auth-Request-Service = %q, want %q", got, tt.wantSvc)
			}
		})
	}
}
