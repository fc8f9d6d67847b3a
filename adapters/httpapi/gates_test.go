package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestScopeGate: scope= and satisfy=, as get_auth decides, with
// generate_challenge's answer.
func TestScopeGate(t *testing.T) {
	// The parent holds read:all and user:token.
	tests := []struct {
		name, query string
		ok          bool
		scope       string // the challenge's scope attribute when refused
	}{
		{"no scope required", "notebook=true", true, ""},
		{"held", "scope=read:all&notebook=true", true, ""},
		{"all held", "scope=read:all&scope=user:token", true, ""},
		{"one missing", "scope=read:all&scope=exec:admin&notebook=true", false, "exec:admin read:all"},
		{"one missing, satisfy=all", "scope=user:token&scope=exec:admin&satisfy=all", false, "exec:admin user:token"},
		{"any, one held", "scope=exec:admin&scope=read:all&satisfy=any&notebook=true", true, ""},
		{"any, none held", "scope=exec:admin&scope=exec:test&satisfy=any", false, "exec:admin exec:test"},
		// Gafaelfawr's rule: satisfy=any with nothing to satisfy never is.
		{"any, no scope required", "satisfy=any", false, ""},
		{"repeated scope named once", "scope=exec:admin&scope=exec:admin", false, "exec:admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.delegate(t, parent, tt.query)
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", resp.StatusCode, body)
			}
			want := `Bearer realm="tokencache", error="insufficient_scope", error_description="Token missing required scope"`
			if tt.scope != "" {
				want += `, scope="` + tt.scope + `"`
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %s\nwant %s", got, want)
			}
			if got := strings.TrimSpace(body); got != `{"detail":[{"msg":"Token missing required scope","type":"insufficient_scope"}]}` {
				t.Errorf("body = %s", got)
			}
			if got := resp.Header.Get("X-Error-Status"); got != "403" {
				t.Errorf("X-Error-Status = %q, want 403", got)
			}
			if got, want := resp.Header.Get("X-Error-Body"),
				`{"detail": [{"msg": "Token missing required scope", "type": "insufficient_scope"}]}`; got != want {
				t.Errorf("X-Error-Body = %s, want %s", got, want)
			}
			if f.repo.Len() != 1 {
				t.Error("a refused request made a child")
			}
		})
	}
}

// TestAuthTypeBasic: auth_type=basic makes every challenge a Basic one,
// which carries no error information.
func TestAuthTypeBasic(t *testing.T) {
	tests := []struct {
		name, authorization, query string
		want                       int
	}{
		{"no credentials", "", "auth_type=basic", http.StatusUnauthorized},
		{"unknown token", "Bearer " + newToken(t).String(), "auth_type=basic", http.StatusUnauthorized},
		{"invalid request", "Digest x", "auth_type=basic", http.StatusForbidden},
		{"missing scope", "", "auth_type=basic&scope=exec:admin", http.StatusForbidden},
		{"lifetime too short", "", "auth_type=basic&minimum_lifetime=7200", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			authorization := tt.authorization
			if authorization == "" && tt.name != "no credentials" {
				authorization = basic(f.mintParent(t, "alice", parentScopes, time.Hour).String(), "x-oauth-basic")
			}
			resp, body := f.get(t, authorization, "/auth/delegate?"+tt.query)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="tokencache"` {
				t.Errorf("WWW-Authenticate = %q, want Basic realm=\"tokencache\"", got)
			}
		})
	}
}

// TestUserRestrictions: username= and only_service=, as user_allowed.
func TestUserRestrictions(t *testing.T) {
	tests := []struct {
		name, service, query string
		ok                   bool
	}{
		{"username matches", "", "username=alice", true},
		{"username differs", "", "username=bob", false},
		{"only_service matches", "portal", "only_service=tap&only_service=portal", true},
		{"only_service differs", "portal", "only_service=tap", false},
		{"only_service, token of no service", "", "only_service=tap", false},
		{"only_service empty, token of no service", "", "only_service=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParentWith(t, "alice", parentScopes, time.Hour, func(d *domain.TokenData) {
				if tt.service != "" {
					d.Type, d.Service = domain.TokenTypeInternal, tt.service
				}
			})
			resp, body := f.delegate(t, parent, tt.query)
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", resp.StatusCode, body)
			}
			want := `Bearer realm="tokencache", error="insufficient_scope", error_description="Access not allowed for this user"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %s, want %s", got, want)
			}
			checkDetail(t, body, "insufficient_scope")
		})
	}
}

func TestAllowedServices(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		service string
		ok      bool
	}{
		{"any service when none configured", nil, "anything", true},
		{"an allowed service", []string{"tap", "portal"}, "portal", true},
		{"another service", []string{"tap", "portal"}, "nublado", false},
		{"a case variant", []string{"portal"}, "Portal", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{allowedServices: tt.allowed})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.delegate(t, parent, "delegate_to="+tt.service+"&delegate_scope=read:all")
			if tt.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", resp.StatusCode, body)
			}
			want := `{"detail":[{"loc":["query","delegate_to"],"msg":"Delegation to this service is not allowed","type":"permission_denied"}]}`
			if got := strings.TrimSpace(body); got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
			if f.repo.Len() != 1 {
				t.Error("a refused request made a child")
			}
		})
	}
	t.Run("notebook tokens are not a service", func(t *testing.T) {
		f := newFixture(t, options{allowedServices: []string{"tap"}})
		parent := f.mintParent(t, "alice", parentScopes, time.Hour)
		if resp, body := f.delegate(t, parent, "notebook=true"); resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
		}
	})
	t.Run("refused before the credentials are read", func(t *testing.T) {
		f := newFixture(t, options{allowedServices: []string{"tap"}})
		if resp, _ := f.get(t, "", "/auth/delegate?delegate_to=nublado"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status = %d, want 403", resp.StatusCode)
		}
	})
}
