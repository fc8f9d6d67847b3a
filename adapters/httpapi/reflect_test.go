package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/domain"
)

// TestSuccessHeaders: build_success_headers' X-Auth-Request-* headers.
func TestSuccessHeaders(t *testing.T) {
	tests := []struct {
		name, query    string
		email, service string // of the parent
		delegated      bool
	}{
		{"authentication only, no email", "", "", "", false},
		{"email", "", "alice@example.com", "", false},
		{"a parent of a service", "", "", "portal", false},
		{"notebook", "notebook=true", "alice@example.com", "", true},
		{"internal, from an internal parent", "delegate_to=tap&delegate_scope=read:all", "", "portal", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParentWith(t, "alice", parentScopes, time.Hour, func(d *domain.TokenData) {
				d.Email = tt.email
				if tt.service != "" {
					d.Type, d.Service = domain.TokenTypeInternal, tt.service
				}
			})
			resp, body := f.delegate(t, parent, tt.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			for header, want := range map[string]string{
				"X-Auth-Request-User": "alice", "X-Auth-Request-Email": tt.email, "X-Auth-Request-Service": tt.service,
			} {
				if got, present := resp.Header.Get(header), len(resp.Header.Values(header)) > 0; got != want || present != (want != "") {
					t.Errorf("%s = %q (present %v), want %q", header, got, present, want)
				}
			}
			if _, got := resp.Header["X-Auth-Request-Token"]; got != tt.delegated {
				t.Errorf("X-Auth-Request-Token present = %v, want %v", got, tt.delegated)
			}
		})
	}
}

// TestReflectedHeaders: the request's Authorization and Cookie headers
// come back without Gafaelfawr's credentials, for nginx to pass on in their
// place, as clean_authorization and clean_cookies leave them.
func TestReflectedHeaders(t *testing.T) {
	type want struct{ authorization, cookie []string }
	tests := []struct {
		name  string
		query string
		// in builds the request's headers from the parent, its state cookie
		// and another token.
		in   func(parent domain.Token, cookie string, other domain.Token) request
		want func(child string) want
	}{
		{"bearer token removed", "notebook=true", func(p domain.Token, _ string, _ domain.Token) request {
			return request{authorizations: []string{"Bearer " + p.String()}}
		}, func(string) want { return want{} }},
		{"use_authorization: the child instead", "notebook=true&use_authorization=true",
			func(p domain.Token, _ string, _ domain.Token) request {
				return request{authorizations: []string{"Bearer " + p.String()}}
			}, func(child string) want { return want{authorization: []string{"Bearer " + child}} }},
		{"use_authorization without a child: none", "use_authorization=true",
			func(_ domain.Token, c string, _ domain.Token) request {
				return request{cookies: []string{statecookie.Name + "=" + c}, authorizations: []string{"Bearer app-secret"}}
			}, func(string) want { return want{} }},
		{"the application's own credentials kept", "notebook=true", func(_ domain.Token, c string, o domain.Token) request {
			return request{
				cookies: []string{"theme=dark; " + statecookie.Name + "=" + c + "; gafaelfawrblah=x; lone"},
				authorizations: []string{
					"Bearer app-secret", "BEARER   " + o.String(), basic(o.String(), "x-oauth-basic"),
					basic("x:y", o.String()), "basic", "basic notreally:base64", "Digest abc", "some broken stuff",
				},
			}
		}, func(string) want {
			return want{
				authorization: []string{"Bearer app-secret", "basic", "basic notreally:base64", "Digest abc", "some broken stuff"},
				cookie:        []string{"theme=dark; gafaelfawrblah=x; lone"},
			}
		}},
		{"state cookie without a space before it", "", func(_ domain.Token, c string, _ domain.Token) request {
			return request{cookies: []string{"a=1;" + statecookie.Name + "=" + c + ";b=2"}}
		}, func(string) want { return want{cookie: []string{"a=1; b=2"}} }},
		{"a tab after the scheme", "", func(p domain.Token, _ string, _ domain.Token) request {
			return request{authorizations: []string{"Bearer\t" + p.String()}}
		}, func(string) want { return want{} }},
		// Python's str.strip, which reads the token, also trims U+001C to
		// U+001F: the header that authenticated is never passed on.
		{"basic with a unit separator after the token", "", func(p domain.Token, _ string, _ domain.Token) request {
			return request{authorizations: []string{basic("x-oauth-basic", p.String()+"\x1f")}}
		}, func(string) want { return want{} }},
		{"only the state cookie: no Cookie header", "", func(_ domain.Token, c string, _ domain.Token) request {
			return request{cookies: []string{statecookie.Name + "=" + c}}
		}, func(string) want { return want{} }},
		{"every Cookie header", "", func(_ domain.Token, c string, _ domain.Token) request {
			// The last state cookie is the one read (Starlette's rule).
			return request{cookies: []string{statecookie.Name + "=x", "a=1", statecookie.Name + "=" + c + "; b=2"}}
		}, func(string) want { return want{cookie: []string{"a=1", "b=2"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.send(t, withQuery(tt.in(parent, f.cookie(t, parent), f.mintParent(t, "bob", parentScopes, time.Hour)), tt.query))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			w := tt.want(resp.Header.Get("X-Auth-Request-Token"))
			if got := resp.Header.Values("Authorization"); !slices.Equal(got, w.authorization) {
				t.Errorf("Authorization = %q, want %q", got, w.authorization)
			}
			if got := resp.Header.Values("Cookie"); !slices.Equal(got, w.cookie) {
				t.Errorf("Cookie = %q, want %q", got, w.cookie)
			}
		})
	}
}

func withQuery(r request, query string) request {
	r.query = query
	return r
}
