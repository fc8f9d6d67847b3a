package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

var parentScopes = []string{"read:all", "user:token"}

func TestDelegateNotebookOK(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)

	resp, _ := f.delegate(t, parent, "notebook=true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Auth-Request-User"); got != "alice" {
		t.Errorf("X-Auth-Request-User = %q, want alice", got)
	}
	child := f.childData(t, resp)
	if child.Type != domain.TokenTypeNotebook || !slices.Equal(child.Scopes, parentScopes) {
		t.Errorf("child = %s with scopes %v, want a notebook token with %v", child.Type, child.Scopes, parentScopes)
	}
	if h := f.repo.History(child.Token.Key); len(h) != 1 || h[0].IPAddress != "192.0.2.1" {
		t.Errorf("history = %+v, want one entry from httptest's client address 192.0.2.1", h)
	}

	again, _ := f.delegate(t, parent, "notebook=true")
	if got, want := again.Header.Get("X-Auth-Request-Token"), resp.Header.Get("X-Auth-Request-Token"); got != want {
		t.Error("a second request got a different child, want the cached one")
	}
}

func TestDelegateInternalOKIntersectsScopes(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)

	// An empty value adds nothing, as in Gafaelfawr.
	resp, _ := f.delegate(t, parent, "delegate_to=portal&delegate_scope=read:all&delegate_scope=&delegate_scope=admin:everything&delegate_scope=exec:notebook")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	child := f.childData(t, resp)
	if child.Type != domain.TokenTypeInternal || child.Service != "portal" {
		t.Errorf("child = %s for %q, want internal for portal", child.Type, child.Service)
	}
	if want := []string{"read:all"}; !slices.Equal(child.Scopes, want) {
		t.Errorf("child scopes = %v, want the intersection %v", child.Scopes, want)
	}
}

func TestDelegateAuthenticationOnly(t *testing.T) {
	// Without notebook or delegate_to, Gafaelfawr's ingress only
	// authenticates; delegate_scope without delegate_to is ignored.
	tests := map[string]string{
		"neither":                        "",
		"notebook false":                 "notebook=false",
		"delegate_scope without service": "delegate_scope=read:all",
		// An empty value is no value, to FastAPI's str | None as to
		// Gafaelfawr's truth tests.
		"delegate_to empty":                 "delegate_to=",
		"delegate_to empty, delegate_scope": "delegate_to=&delegate_scope=read:all",
	}
	for name, query := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.delegate(t, parent, query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Auth-Request-User"); got != "alice" {
				t.Errorf("X-Auth-Request-User = %q, want alice", got)
			}
			if _, ok := resp.Header["X-Auth-Request-Token"]; ok {
				t.Error("an authentication check handed out a token")
			}
			if strings.TrimSpace(body) != `{"status":"ok"}` {
				t.Errorf("body = %s, want {\"status\":\"ok\"} as Gafaelfawr answers", body)
			}
			if f.repo.Len() != 1 {
				t.Error("an authentication check wrote to the repository")
			}
		})
	}
	t.Run("notebook with delegate_to empty", func(t *testing.T) {
		f := newFixture(t, options{})
		parent := f.mintParent(t, "alice", parentScopes, time.Hour)
		resp, body := f.delegate(t, parent, "notebook=true&delegate_to=")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
		}
		if child := f.childData(t, resp); child.Type != domain.TokenTypeNotebook {
			t.Errorf("child = %s, want a notebook token", child.Type)
		}
	})
	t.Run("delegate_scope with notebook", func(t *testing.T) {
		f := newFixture(t, options{})
		parent := f.mintParent(t, "alice", parentScopes, time.Hour)
		resp, body := f.delegate(t, parent, "notebook=true&delegate_scope=read:all")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
		}
		if child := f.childData(t, resp); child.Type != domain.TokenTypeNotebook || !slices.Equal(child.Scopes, parentScopes) {
			t.Errorf("child = %s with %v, want a notebook token with all the parent's scopes", child.Type, child.Scopes)
		}
	})
}

func TestDelegateUnauthorized(t *testing.T) {
	type setup func(t *testing.T, f *fixture) (authorization, query string)
	tests := []struct {
		name string
		bare bool // a challenge without error="invalid_token", and no_authorization
		setup
	}{
		{"missing", true, func(*testing.T, *fixture) (string, string) { return "", "notebook=true" }},
		{"missing, authentication only", true, func(*testing.T, *fixture) (string, string) { return "", "" }},
		{"empty", true, func(*testing.T, *fixture) (string, string) { return " ", "notebook=true" }},
		{"malformed", false, func(*testing.T, *fixture) (string, string) {
			return "Bearer gt-not-a-token", "notebook=true"
		}},
		{"unknown", false, func(t *testing.T, _ *fixture) (string, string) {
			return "Bearer " + newToken(t).String(), "notebook=true"
		}},
		{"wrong secret", false, func(t *testing.T, f *fixture) (string, string) {
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			parent.Secret = newToken(t).Secret
			return "Bearer " + parent.String(), "notebook=true"
		}},
		{"expired parent", false, func(t *testing.T, f *fixture) (string, string) {
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			f.clock.Advance(time.Hour)
			return "Bearer " + parent.String(), "notebook=true"
		}},
		{"parent expiring within a second", false, func(t *testing.T, f *fixture) (string, string) {
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			f.clock.Advance(time.Hour - 500*time.Millisecond)
			return "Bearer " + parent.String(), "notebook=true"
		}},
		{"parent too short-lived for minimum_lifetime", false, func(t *testing.T, f *fixture) (string, string) {
			parent := f.mintParent(t, "alice", parentScopes, 10*time.Minute)
			return "Bearer " + parent.String(), "notebook=true&minimum_lifetime=3600"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			authorization, query := tt.setup(t, f)
			resp, body := f.get(t, authorization, "/auth/delegate?"+query)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", resp.StatusCode, body)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, "Bearer ") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
			}
			if got := strings.Contains(challenge, `error="invalid_token"`); got == tt.bare {
				t.Errorf("WWW-Authenticate = %q; want error=\"invalid_token\" only for a presented token", challenge)
			}
			if resp.Header.Get("X-Auth-Request-Token") != "" {
				t.Error("a refused request got a token")
			}
			if tt.bare {
				checkDetail(t, body, "no_authorization")
			} else {
				checkDetail(t, body, "invalid_token")
			}
		})
	}
}

func TestDelegateForbidden(t *testing.T) {
	// The handler's intersection keeps the service from ever being asked
	// for scopes the parent lacks, so the service's refusal is simulated.
	f := newFixture(t, options{issuer: refusingIssuer{}})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	resp, body := f.delegate(t, parent, "delegate_to=portal&delegate_scope=read:all")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", resp.StatusCode)
	}
	if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_scope"`) {
		t.Errorf("WWW-Authenticate = %q, want error=\"insufficient_scope\"", c)
	}
	checkDetail(t, body, "insufficient_scope")
}

func TestDelegateUnprocessable(t *testing.T) {
	tests := []struct {
		name, query string
		param       string // the parameter "loc" names; "" when the service refuses
	}{
		{"minimum_lifetime not a number", "notebook=true&minimum_lifetime=soon", "minimum_lifetime"},
		{"allow_options not a boolean", "notebook=true&allow_options=junk", "allow_options"},
		{"minimum_lifetime fractional", "notebook=true&minimum_lifetime=1.5", "minimum_lifetime"},
		{"minimum_lifetime fractional past 300", "notebook=true&minimum_lifetime=600.5", "minimum_lifetime"},
		{"minimum_lifetime infinite", "notebook=true&minimum_lifetime=inf", "minimum_lifetime"},
		{"minimum_lifetime not a number", "notebook=true&minimum_lifetime=nan", "minimum_lifetime"},
		{"minimum_lifetime past float", "notebook=true&minimum_lifetime=1e400", "minimum_lifetime"},
		{"minimum_lifetime doubled underscore", "notebook=true&minimum_lifetime=6__00", "minimum_lifetime"},
		{"minimum_lifetime trailing underscore", "notebook=true&minimum_lifetime=600_", "minimum_lifetime"},
		{"minimum_lifetime underscore by the point", "notebook=true&minimum_lifetime=600_.0", "minimum_lifetime"},
		{"minimum_lifetime hexadecimal", "notebook=true&minimum_lifetime=0x258", "minimum_lifetime"},
		{"minimum_lifetime point alone", "notebook=true&minimum_lifetime=.", "minimum_lifetime"},
		{"minimum_lifetime empty exponent", "notebook=true&minimum_lifetime=6e", "minimum_lifetime"},
		{"minimum_lifetime negative", "notebook=true&minimum_lifetime=-5", "minimum_lifetime"},
		{"minimum_lifetime overflowing", "notebook=true&minimum_lifetime=99999999999999999999", "minimum_lifetime"},
		{"minimum_lifetime given twice", "notebook=true&minimum_lifetime=60&minimum_lifetime=70", "minimum_lifetime"},
		{"minimum_lifetime over the maximum", "notebook=true&minimum_lifetime=2592000", ""},
		{"minimum_lifetime zero", "notebook=true&minimum_lifetime=0", "minimum_lifetime"},
		{"minimum_lifetime 299", "delegate_to=portal&minimum_lifetime=299", "minimum_lifetime"},
		{"minimum_lifetime 1 without a child", "minimum_lifetime=1", "minimum_lifetime"},
		{"notebook not a boolean", "notebook=maybe", "notebook"},
		{"delegate_scope malformed", "delegate_to=portal&delegate_scope=read%20all", "delegate_scope"},
		// Gafaelfawr (since 12.4.0) reads each value as one scope, untrimmed:
		// "read:all,exec:notebook" is a scope no parent holds, and it would
		// reuse a child with none. Splitting would make another child.
		{"delegate_scope comma list", "delegate_to=portal&delegate_scope=read:all,exec:notebook", "delegate_scope"},
		{"delegate_scope trailing comma", "delegate_to=portal&delegate_scope=read:all,", "delegate_scope"},
		{"delegate_scope spaces", "delegate_to=portal&delegate_scope=%20read:all%20", "delegate_scope"},
		{"scope malformed", "scope=read%20all", "scope"},
		{"scope a comma list", "scope=read:all,exec:notebook", "scope"},
		{"satisfy unknown", "satisfy=some", "satisfy"},
		{"satisfy given twice", "satisfy=any&satisfy=all", "satisfy"},
		{"auth_type unknown", "auth_type=digest", "auth_type"},
		{"auth_type in capitals", "auth_type=Basic", "auth_type"},
		{"use_authorization not a boolean", "notebook=true&use_authorization=maybe", "use_authorization"},
		{"allow_cookies not a boolean", "allow_cookies=2", "allow_cookies"},
		{"user_domain, which needs the original URL", "user_domain=true", "user_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, 60*24*time.Hour)
			resp, body := f.delegate(t, parent, tt.query)
			if f.repo.Len() != 1 {
				t.Error("a refused request wrote to the repository")
			}
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
			}
			checkDetail(t, body, "invalid_parameter")
			var b struct{ Detail []struct{ Loc []string } }
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.param != "" {
				want = []string{"query", tt.param}
			}
			if len(b.Detail) != 1 || !slices.Equal(b.Detail[0].Loc, want) {
				t.Errorf("body = %s, want loc %q", body, want)
			}
			// The service's refusal says what was wrong: it holds no secret.
			if tt.param == "" && !strings.Contains(body, "minimum lifetime") {
				t.Errorf("body = %s, want the service's reason", body)
			}
		})
	}
}

// Gafaelfawr reads delegate_scope only for an internal child (the
// delegate_to branch of build_delegated_token): anywhere else any value
// is ignored, and a malformed one refused here would refuse what it lets
// through.
func TestDelegateScopeIgnoredWithoutDelegateTo(t *testing.T) {
	for _, tt := range []struct{ name, query string }{
		{"authentication check, comma list", "delegate_scope=read:all,exec:notebook"},
		{"authentication check, malformed", "delegate_scope=read%20all"},
		{"notebook, comma list", "notebook=true&delegate_scope=read:all,exec:notebook"},
		{"empty delegate_to, comma list", "delegate_to=&delegate_scope=a,b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			if resp, body := f.delegate(t, parent, tt.query); resp.StatusCode != http.StatusOK {
				t.Errorf("?%s: status = %d, want 200; body %s", tt.query, resp.StatusCode, body)
			}
		})
	}
	// With notebook=true, delegate_to is refused first, as Gafaelfawr
	// refuses it whatever delegate_scope holds.
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	resp, body := f.delegate(t, parent, "notebook=true&delegate_to=portal&delegate_scope=a,b")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "invalid_delegate_to") {
		t.Errorf("notebook with delegate_to and a comma list: status %d, body %s; want 422 invalid_delegate_to", resp.StatusCode, body)
	}
}

func TestDelegateNotebookWithDelegateTo(t *testing.T) {
	// Gafaelfawr's InvalidDelegateToError, before any credential is read.
	f := newFixture(t, options{})
	for _, authorization := range []string{"", "Bearer " + f.mintParent(t, "alice", parentScopes, time.Hour).String()} {
		resp, body := f.get(t, authorization, "/auth/delegate?notebook=true&delegate_to=portal")
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
		}
		want := `{"detail":[{"loc":["query","delegate_to"],"msg":"delegate_to cannot be set for notebook tokens","type":"invalid_delegate_to"}]}`
		if strings.TrimSpace(body) != want {
			t.Errorf("body = %s, want %s", body, want)
		}
	}
}

func TestDelegateSchemeIsCaseInsensitive(t *testing.T) {
	// RFC 7235: the auth-scheme is case-insensitive.
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	resp, body := f.get(t, "bearer "+parent.String(), "/auth/delegate?notebook=true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
	}
}

func TestDelegateUnavailable(t *testing.T) {
	t.Run("parent lookup fails", func(t *testing.T) {
		f := newFixture(t, options{wrap: func(s ports.TokenStore) ports.TokenStore {
			return &failingStore{TokenStore: s, failGet: true}
		}})
		resp, body := f.delegate(t, newToken(t), "notebook=true")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", resp.StatusCode)
		}
		checkDetail(t, body, "unavailable")
		if strings.Contains(body, "10.0.0.1") {
			t.Errorf("body %s reveals the store's error", body)
		}
	})
	t.Run("storing the child fails", func(t *testing.T) {
		f := newFixture(t, options{wrap: func(s ports.TokenStore) ports.TokenStore {
			return &failingStore{TokenStore: s, failStore: true}
		}})
		parent := f.mintParent(t, "alice", parentScopes, time.Hour)
		resp, body := f.delegate(t, parent, "notebook=true")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", resp.StatusCode)
		}
		checkDetail(t, body, "unavailable")
		if !strings.Contains(f.logs.String(), "connection refused") {
			t.Errorf("the log does not say why: %s", f.logs.String())
		}
	})
}

func TestDelegateTimeout(t *testing.T) {
	f := newFixture(t, options{issuer: stuckIssuer{}, timeout: 20 * time.Millisecond})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	resp, body := f.delegate(t, parent, "notebook=true")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
	checkDetail(t, body, "unavailable")
	if !strings.Contains(f.logs.String(), `"outcome":"timeout"`) {
		t.Errorf("the request log does not record the timeout: %s", f.logs.String())
	}
}

// TestDelegateOnlyGet: HEAD too is a 405, as Gafaelfawr's route (FastAPI's
// GET only) answers it, rather than a child made for an answer without a
// body.
func TestDelegateOnlyGet(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
		req, _ := http.NewRequest(method, "/auth/delegate?notebook=true", nil)
		req.Header.Set("Authorization", "Bearer "+parent.String())
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s status = %d, want 405", method, rec.Code)
		}
		if got := rec.Header().Get("Allow"); got != "GET" {
			t.Errorf("%s: Allow = %q, want GET", method, got)
		}
	}
	if f.repo.Len() != 1 {
		t.Errorf("the refused requests made %d children", f.repo.Len()-1)
	}
}

func TestRequestLogNeverHoldsAuthorization(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	f.delegate(t, parent, "notebook=true")
	logs := f.logs.String()
	for _, want := range []string{`"status":200`, `"username":"alice"`, `"path":"/auth/delegate"`, `"duration"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s: %s", want, logs)
		}
	}
	if strings.Contains(logs, parent.String()) || strings.Contains(logs, "Bearer") {
		t.Errorf("request log holds the Authorization header: %s", logs)
	}
}

// TestRequestLogIsBounded: what a client sends reaches the request log
// bounded, however long it sent it.
func TestRequestLogIsBounded(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	long := strings.Repeat("A", 60000)
	f.get(t, "", "/"+long)
	f.delegate(t, parent, "delegate_to="+long)
	f.get(t, "Bearer "+parent.String(), "/auth/delegate/"+long)
	for line := range strings.Lines(f.logs.String()) {
		if len(line) > 1024 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

// checkDetail checks an error body's shape and its type.
func checkDetail(t *testing.T, body, wantType string) {
	t.Helper()
	var b struct {
		Detail []struct {
			Msg  string `json:"msg"`
			Type string `json:"type"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if len(b.Detail) != 1 || b.Detail[0].Type != wantType || b.Detail[0].Msg == "" {
		t.Errorf("body = %s, want one detail of type %q with a message", body, wantType)
	}
	if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
		t.Errorf("body looks like a stack trace: %s", body)
	}
}

func newToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(randReader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// refusingIssuer refuses every request as the service does when the
// parent lacks a scope.
type refusingIssuer struct{}

func (refusingIssuer) GetNotebookToken(context.Context, domain.TokenData, string, time.Duration) (domain.Token, error) {
	return domain.Token{}, errors.New("GetNotebookToken was not expected")
}

func (refusingIssuer) GetInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, error) {
	return domain.Token{}, domain.ErrPermissionDenied
}

// stuckIssuer waits for its context to end, as a service waiting on a
// store that does not answer would.
type stuckIssuer struct{}

func (stuckIssuer) GetNotebookToken(ctx context.Context, _ domain.TokenData, _ string, _ time.Duration) (domain.Token, error) {
	<-ctx.Done()
	return domain.Token{}, ctx.Err()
}

func (stuckIssuer) GetInternalToken(ctx context.Context, _ domain.TokenData, _ string, _ []string, _ string, _ time.Duration) (domain.Token, error) {
	<-ctx.Done()
	return domain.Token{}, ctx.Err()
}
