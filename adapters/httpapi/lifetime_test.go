package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// TestMinimumLifetimeGivenToTheIssuer: 300 s when a child is asked for
// without minimum_lifetime, as Gafaelfawr's auth_config defaults it.
func TestMinimumLifetimeGivenToTheIssuer(t *testing.T) {
	tests := []struct {
		query string
		want  time.Duration
	}{
		{"notebook=true", 300 * time.Second},
		{"delegate_to=portal&delegate_scope=read:all", 300 * time.Second},
		{"notebook=true&minimum_lifetime=300", 300 * time.Second},
		{"delegate_to=portal&minimum_lifetime=3600", time.Hour},
		// safir's SecondsTimedelta reads the value with Python's float():
		// these are whole numbers of seconds too.
		{"notebook=true&minimum_lifetime=600.0", 600 * time.Second},
		{"notebook=true&minimum_lifetime=1e3", 1000 * time.Second},
		{"notebook=true&minimum_lifetime=6_00", 600 * time.Second},
		{"notebook=true&minimum_lifetime=%20600%09", 600 * time.Second},
		{"notebook=true&minimum_lifetime=%2B.6E3", 600 * time.Second},
		{"notebook=true&minimum_lifetime=0600.", 600 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			issuer := &recordingIssuer{}
			f := newFixture(t, options{issuer: issuer})
			issuer.ChildIssuer = f.service
			parent := f.mintParent(t, "alice", parentScopes, 2*time.Hour)
			if resp, body := f.delegate(t, parent, tt.query); resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if got := issuer.minimums(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("the issuer was asked with minimum lifetimes %v, want [%v]", got, tt.want)
			}
		})
	}
}

// TestRemainingLifetime: the parent must outlive the minimum lifetime,
// also when no child is asked for, as check_lifetime.
func TestRemainingLifetime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // of the parent
		after    time.Duration // from its minting to the request
		query    string
		ok       bool
	}{
		{"notebook, 4 minutes left", 4 * time.Minute, 0, "notebook=true", false},
		{"internal, 4 minutes left", 4 * time.Minute, 0, "delegate_to=portal", false},
		{"notebook, 5 minutes left", 5 * time.Minute, 0, "notebook=true", true},
		// Gafaelfawr measures from now in whole seconds.
		{"notebook, 5 minutes left less 0.6 s", 5 * time.Minute, 600 * time.Millisecond, "notebook=true", true},
		{"notebook, 5 minutes left less 1 s", 5 * time.Minute, time.Second, "notebook=true", false},
		{"authentication only, 4 minutes left", 4 * time.Minute, 0, "", true},
		{"authentication only, minimum 600, 9 minutes left", 9 * time.Minute, 0, "minimum_lifetime=600", false},
		{"authentication only, minimum 600, 10 minutes left", 10 * time.Minute, 0, "minimum_lifetime=600", true},
		{"a parent that never expires", 0, 0, "notebook=true&minimum_lifetime=86400", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParentWith(t, "alice", parentScopes, tt.lifetime, func(d *domain.TokenData) {
				if tt.lifetime == 0 {
					d.Expires = time.Time{}
				}
			})
			f.clock.Advance(tt.after)
			resp, body := f.delegate(t, parent, tt.query)
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", resp.StatusCode, body)
			}
			want := `Bearer realm="tokencache", error="invalid_token", error_description="Remaining token lifetime too short"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %s, want %s", got, want)
			}
			if got := strings.TrimSpace(body); got != `{"detail":[{"msg":"Remaining token lifetime too short","type":"invalid_token"}]}` {
				t.Errorf("body = %s", got)
			}
			// generate_unauthorized_challenge sets no X-Error-Status.
			if got := resp.Header.Get("X-Error-Status"); got != "" {
				t.Errorf("X-Error-Status = %q, want none", got)
			}
			if f.repo.Len() != 1 {
				t.Error("a refused request made a child")
			}
		})
	}
}

// TestMaximumMinimumLifetime: with the token lifetime known, a minimum
// lifetime no child could meet is refused before any store is read, as
// check_lifetime's InvalidMinimumLifetimeError.
func TestMaximumMinimumLifetime(t *testing.T) {
	for _, query := range []string{"minimum_lifetime=2591701", "notebook=true&minimum_lifetime=2591701"} {
		t.Run(query, func(t *testing.T) {
			var gets int
			f := newFixture(t, options{tokenLifetime: 30 * 24 * time.Hour, wrap: func(s ports.TokenStore) ports.TokenStore {
				return &countingStore{TokenStore: s, gets: &gets}
			}})
			parent := f.mintParent(t, "alice", parentScopes, 60*24*time.Hour)
			resp, body := f.delegate(t, parent, query)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
			}
			want := `{"detail":[{"loc":["query","minimum_lifetime"],` +
				`"msg":"Requested lifetime 2591701s longer than maximum lifetime 2591700s","type":"invalid_minimum_lifetime"}]}`
			if got := strings.TrimSpace(body); got != want {
				t.Errorf("body = %s\nwant %s", got, want)
			}
			if gets != 0 {
				t.Errorf("the token store was read %d times, want none", gets)
			}
		})
	}
	t.Run("the maximum itself", func(t *testing.T) {
		f := newFixture(t, options{tokenLifetime: 30 * 24 * time.Hour})
		parent := f.mintParent(t, "alice", parentScopes, 60*24*time.Hour)
		if resp, body := f.delegate(t, parent, "notebook=true&minimum_lifetime=2591700"); resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
		}
	})
}

// recordingIssuer passes requests on and remembers their minimum lifetimes.
type recordingIssuer struct {
	httpapi.ChildIssuer // set before the first request
	mu                  sync.Mutex
	got                 []time.Duration
}

func (r *recordingIssuer) record(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, d)
}

func (r *recordingIssuer) minimums() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.got...)
}

func (r *recordingIssuer) GetNotebookToken(ctx context.Context, parent domain.TokenData, ip string, minimum time.Duration) (domain.Token, error) {
	r.record(minimum)
	return r.ChildIssuer.GetNotebookToken(ctx, parent, ip, minimum)
}

func (r *recordingIssuer) GetInternalToken(ctx context.Context, parent domain.TokenData, service string, scopes []string, ip string, minimum time.Duration) (domain.Token, error) {
	r.record(minimum)
	return r.ChildIssuer.GetInternalToken(ctx, parent, service, scopes, ip, minimum)
}

// countingStore counts lookups of a presented token.
type countingStore struct {
	ports.TokenStore
	gets *int
}

func (s *countingStore) Get(ctx context.Context, token domain.Token) (domain.TokenData, error) {
	*s.gets++
	return s.TokenStore.Get(ctx, token)
}
