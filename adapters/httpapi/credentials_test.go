package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/domain"
)

// request is what a credentials test sends: any Cookie and Authorization
// headers, each value its own header line.
type request struct {
	cookies        []string
	authorizations []string
	query          string
}

func (f *fixture) send(t *testing.T, r request) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate?"+r.query, nil)
	for _, c := range r.cookies {
		req.Header.Add("Cookie", c)
	}
	for _, a := range r.authorizations {
		req.Header.Add("Authorization", a)
	}
	return f.do(t, req)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestCredentialPrecedence: the state cookie first, then the Authorization
// header, as Gafaelfawr's Authenticate._find_token.
func TestCredentialPrecedence(t *testing.T) {
	type setup func(t *testing.T, f *fixture, alice, bob domain.Token) request
	tests := []struct {
		name     string
		opts     options
		setup    setup
		wantUser string // "" for a 401 without error (no credentials)
	}{
		{"cookie", options{}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)}}
		}, "alice"},
		{"cookie among others", options{}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{"a=1;" + statecookie.Name + "=" + f.cookie(t, alice) + " ; b=2"}}
		}, "alice"},
		{"cookie before bearer", options{}, func(t *testing.T, f *fixture, alice, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)},
				authorizations: []string{"Bearer " + bob.String()}}
		}, "alice"},
		{"cookie, Authorization not read", options{}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)},
				authorizations: []string{"junk", "Digest more junk"}}
		}, "alice"},
		{"last of two state cookies, as Starlette reads them", options{}, func(t *testing.T, f *fixture, alice, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, bob) + "; " +
				statecookie.Name + "=" + f.cookie(t, alice)}}
		}, "alice"},
		// Starlette (since 0.49) reads every Cookie header, a later one's
		// pair winning over an earlier one's.
		{"a state cookie in a second Cookie header, as Starlette", options{}, func(t *testing.T, f *fixture, alice, bob domain.Token) request {
			return request{cookies: []string{"a=1", statecookie.Name + "=" + f.cookie(t, alice)},
				authorizations: []string{"Bearer " + bob.String()}}
		}, "alice"},
		{"the state cookie of the last Cookie header, as Starlette", options{}, func(t *testing.T, f *fixture, alice, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, bob), "a=1; " + statecookie.Name + "=" + f.cookie(t, alice)}}
		}, "alice"},
		{"allow_cookies=false", options{}, func(t *testing.T, f *fixture, alice, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)},
				authorizations: []string{"Bearer " + bob.String()}, query: "allow_cookies=false"}
		}, "bob"},
		{"allow_cookies=false, cookie only", options{}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)}, query: "allow_cookies=false"}
		}, ""},
		{"no Cookies configured", options{noCookies: true}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, alice)}}
		}, ""},
		{"unreadable cookie, then bearer", options{}, func(t *testing.T, _ *fixture, _, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=gAAAAAnotfernet"},
				authorizations: []string{"Bearer " + bob.String()}}
		}, "bob"},
		{"cookie of another secret, then bearer", options{}, func(t *testing.T, _ *fixture, alice, bob domain.Token) request {
			other, err := statecookie.New(newSessionSecret(t))
			if err != nil {
				t.Fatal(err)
			}
			value, err := other.Encode(alice)
			if err != nil {
				t.Fatal(err)
			}
			return request{cookies: []string{statecookie.Name + "=" + value},
				authorizations: []string{"Bearer " + bob.String()}}
		}, "bob"},
		{"cookie of an unknown token, no fallback to the header", options{}, func(t *testing.T, f *fixture, _, bob domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, newToken(t))},
				authorizations: []string{"Bearer " + bob.String()}}
		}, ""},
		{"another cookie's name", options{}, func(t *testing.T, f *fixture, alice, _ domain.Token) request {
			return request{cookies: []string{"gafaelfawrblah=" + f.cookie(t, alice)}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			alice := f.mintParent(t, "alice", parentScopes, time.Hour)
			bob := f.mintParent(t, "bob", parentScopes, time.Hour)
			resp, body := f.send(t, tt.setup(t, f, alice, bob))
			if tt.wantUser == "" {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401; body %s", resp.StatusCode, body)
				}
				if c := resp.Header.Get("WWW-Authenticate"); c != `Bearer realm="tokencache"` {
					t.Errorf("WWW-Authenticate = %q, want the bare challenge", c)
				}
				checkDetail(t, body, "no_authorization")
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Auth-Request-User"); got != tt.wantUser {
				t.Errorf("X-Auth-Request-User = %q, want %q", got, tt.wantUser)
			}
		})
	}
}

// TestCredentialForms: the forms of parse_authorization.
func TestCredentialForms(t *testing.T) {
	tests := []struct {
		name  string
		auth  func(alice, bob, unknown domain.Token) string
		want  int    // status
		kind  string // the body's type for an error
		error string // the challenge's error_description, "" for a bare challenge
	}{
		{"bearer", func(a, _, _ domain.Token) string { return "Bearer " + a.String() }, 200, "", ""},
		{"bearer in capitals, spaces after", func(a, _, _ domain.Token) string { return "BEARER   " + a.String() }, 200, "", ""},
		{"basic, token as user", func(a, _, _ domain.Token) string { return basic(a.String(), "x-oauth-basic") }, 200, "", ""},
		{"basic, token as password", func(a, _, _ domain.Token) string { return basic("x-oauth-basic", a.String()) }, 200, "", ""},
		{"basic, same token twice", func(a, _, _ domain.Token) string { return basic(a.String(), a.String()) }, 200, "", ""},
		{"basic, excess padding", func(a, _, _ domain.Token) string { return basic(a.String(), "") + "==" }, 200, "", ""},
		{"basic, conflicting tokens", func(a, b, _ domain.Token) string { return basic(a.String(), b.String()) },
			403, "invalid_request", "Conflicting tokens in Basic username and password fields"},
		{"basic, no token", func(_, _, _ domain.Token) string { return basic("x-oauth-basic", "foo") },
			401, "no_authorization", ""},
		{"basic, two colons", func(a, _, _ domain.Token) string { return basic(a.String(), "x:y") },
			403, "invalid_request", "Invalid Basic auth string"},
		{"basic, no colon", func(a, _, _ domain.Token) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.String()))
		}, 403, "invalid_request", "Invalid Basic auth string"},
		{"basic, not base64", func(_, _, _ domain.Token) string { return "Basic abc" },
			403, "invalid_request", "Invalid Basic auth string"},
		{"basic, not UTF-8", func(_, _, _ domain.Token) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:\xfe"))
		}, 403, "invalid_request", "Invalid Basic auth string"},
		{"scheme only", func(_, _, _ domain.Token) string { return "Bearer" },
			403, "invalid_request", "Malformed Authorization header"},
		{"unknown scheme", func(a, _, _ domain.Token) string { return "Token " + a.String() },
			403, "invalid_request", "Unknown Authorization type"},
		{"token without a scheme", func(a, _, _ domain.Token) string { return a.String() + " x" },
			403, "invalid_request", "Unknown Authorization type"},
		{"bearer not a token", func(_, _, _ domain.Token) string { return "Bearer abc" },
			401, "invalid_token", "Token does not start with gt-"},
		{"bearer malformed token", func(_, _, _ domain.Token) string { return "Bearer gt-abc.def" },
			401, "invalid_token", "Token is malformed"},
		{"bearer unknown token", func(_, _, u domain.Token) string { return "Bearer " + u.String() },
			401, "invalid_token", "Token is not valid"},
		// Token.from_str takes any 22 characters around the first ".", so
		// Gafaelfawr looks these up, finds nothing, and says so.
		{"bearer of the form, not base64", func(_, _, _ domain.Token) string {
			return "Bearer gt-" + strings.Repeat("!", 22) + "." + strings.Repeat("a", 22)
		}, 401, "invalid_token", "Token is not valid"},
		{"bearer with a dot in its secret", func(_, _, _ domain.Token) string {
			return "Bearer gt-" + strings.Repeat("a", 22) + "." + strings.Repeat("b", 10) + "." + strings.Repeat("c", 11)
		}, 401, "invalid_token", "Token is not valid"},
		// Starlette reads the header as latin-1, a character a byte: "é"
		// sent as UTF-8 is two characters there.
		{"bearer of 22 latin-1 characters", func(_, _, _ domain.Token) string {
			return "Bearer gt-" + strings.Repeat("é", 11) + "." + strings.Repeat("a", 22)
		}, 401, "invalid_token", "Token is not valid"},
		{"bearer of 22 UTF-8 characters, 44 latin-1 ones", func(_, _, _ domain.Token) string {
			return "Bearer gt-" + strings.Repeat("é", 22) + "." + strings.Repeat("a", 22)
		}, 401, "invalid_token", "Token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			alice := f.mintParent(t, "alice", parentScopes, time.Hour)
			bob := f.mintParent(t, "bob", parentScopes, time.Hour)
			resp, body := f.send(t, request{authorizations: []string{tt.auth(alice, bob, newToken(t))}, query: "notebook=true"})
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusOK {
				if got := resp.Header.Get("X-Auth-Request-User"); got != "alice" {
					t.Errorf("X-Auth-Request-User = %q, want alice", got)
				}
				return
			}
			checkDetail(t, body, tt.kind)
			wantChallenge := `Bearer realm="tokencache"`
			if tt.error != "" {
				wantChallenge += `, error="` + tt.kind + `", error_description="` + tt.error + `"`
			}
			if c := resp.Header.Get("WWW-Authenticate"); c != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", c, wantChallenge)
			}
			// generate_challenge's headers for a refused credential: the
			// real status and body, for nginx's error page.
			wantStatus := map[string]string{"invalid_request": "400", "invalid_token": "401"}[tt.kind]
			if got := resp.Header.Get("X-Error-Status"); got != wantStatus {
				t.Errorf("X-Error-Status = %q, want %q", got, wantStatus)
			}
			if wantStatus != "" {
				want := `{"detail": [{"msg": "` + tt.error + `", "type": "` + tt.kind + `"}]}`
				if got := resp.Header.Get("X-Error-Body"); got != want {
					t.Errorf("X-Error-Body = %s, want %s", got, want)
				}
			}
		})
	}
}

// TestSeveralAuthorizationHeadersAreRefused: which of them is meant is a
// guess, whichever order they come in.
func TestSeveralAuthorizationHeadersAreRefused(t *testing.T) {
	for name, order := range map[string][2]bool{
		"valid then junk": {true, false},
		"junk then valid": {false, true},
		"both valid":      {true, true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, options{})
			alice := f.mintParent(t, "alice", parentScopes, time.Hour)
			var headers []string
			for _, valid := range order {
				if valid {
					headers = append(headers, "Bearer "+alice.String())
				} else {
					headers = append(headers, "Bearer junk")
				}
			}
			resp, body := f.send(t, request{authorizations: headers, query: "notebook=true"})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", resp.StatusCode, body)
			}
			checkDetail(t, body, "invalid_request")
			if got := resp.Header.Get("X-Error-Status"); got != "400" {
				t.Errorf("X-Error-Status = %q, want 400", got)
			}
			if f.repo.Len() != 1 {
				t.Error("a refused request made a child")
			}
		})
	}
}

// TestRequestFromAScriptGets403: a 401 that nginx would turn into a
// redirect to log in is a 403 for a script, as in Gafaelfawr's ingress.
func TestRequestFromAScriptGets403(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) request
		want  int
	}{
		{"no credentials", func(*testing.T, *fixture) request { return request{} }, 403},
		{"cookie of an unknown token", func(t *testing.T, f *fixture) request {
			return request{cookies: []string{statecookie.Name + "=" + f.cookie(t, newToken(t))}}
		}, 403},
		{"lifetime too short", func(t *testing.T, f *fixture) request {
			return request{authorizations: []string{"Bearer " + f.mintParent(t, "alice", parentScopes, time.Minute).String()},
				query: "notebook=true"}
		}, 403},
		{"unknown bearer token stays 401", func(t *testing.T, _ *fixture) request {
			return request{authorizations: []string{"Bearer " + newToken(t).String()}}
		}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			r := tt.setup(t, f)
			req := httptest.NewRequest(http.MethodGet, "/auth/delegate?"+r.query, nil)
			for _, c := range r.cookies {
				req.Header.Add("Cookie", c)
			}
			for _, a := range r.authorizations {
				req.Header.Add("Authorization", a)
			}
			req.Header.Set("X-Requested-With", "xmlhttprequest")
			resp, body := f.do(t, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, body)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q, want the challenge still", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// Gafaelfawr's Authenticate.authenticate answers a token the store does not
// hold by where the state cookie stands, not by where the token came from:
// while the cookie holds a session token, even one that allow_cookies=false
// set aside, an unknown header token gets the bare challenge a browser
// answers by logging in (a 403 for a script), as an unknown cookie token
// does. A header token Token.from_str takes but tokencache cannot parse is
// such an unknown token too: Gafaelfawr looks it up in vain.
func TestUnknownHeaderTokenWithASessionCookieSetAside(t *testing.T) {
	for _, tt := range []struct {
		name       string
		xhr        bool
		credential func(t *testing.T) string
		wantStatus int
	}{
		{"unknown token", false, func(t *testing.T) string { return newToken(t).String() }, http.StatusUnauthorized},
		{"unknown token, XMLHttpRequest", true, func(t *testing.T) string { return newToken(t).String() }, http.StatusForbidden},
		{"token-shaped, not a token", false, func(*testing.T) string {
			return "gt-" + strings.Repeat("!", 22) + "." + strings.Repeat("b", 22)
		}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			alice := f.mintParent(t, "alice", parentScopes, time.Hour)
			req := httptest.NewRequest(http.MethodGet, "/auth/delegate?allow_cookies=false", nil)
			req.Header.Add("Cookie", statecookie.Name+"="+f.cookie(t, alice))
			req.Header.Set("Authorization", "Bearer "+tt.credential(t))
			if tt.xhr {
				req.Header.Set("X-Requested-With", "XMLHttpRequest")
			}
			resp, body := f.do(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if c := resp.Header.Get("WWW-Authenticate"); c != `Bearer realm="tokencache"` {
				t.Errorf("WWW-Authenticate = %q, want the bare challenge", c)
			}
			if s := resp.Header.Get("X-Error-Status"); s != "" {
				t.Errorf("X-Error-Status = %q, want none", s)
			}
			if !strings.Contains(body, `"no_authorization"`) {
				t.Errorf("body = %s, want type no_authorization", body)
			}
		})
	}
	t.Run("no session in the cookie", func(t *testing.T) {
		f := newFixture(t, options{})
		req := httptest.NewRequest(http.MethodGet, "/auth/delegate?allow_cookies=false", nil)
		req.Header.Add("Cookie", statecookie.Name+"=gAAAAAnotfernet")
		req.Header.Set("Authorization", "Bearer "+newToken(t).String())
		resp, body := f.do(t, req)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Error-Status") != "401" || !strings.Contains(body, `"invalid_token"`) {
			t.Errorf("status %d, X-Error-Status %q, body %s; want 401, 401, invalid_token", resp.StatusCode, resp.Header.Get("X-Error-Status"), body)
		}
	})
}
