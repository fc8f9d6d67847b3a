package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/statecookie"
)

// Gafaelfawr's clean_authorization drops a Bearer header whose value is
// "gt-", 22 characters, ".", 22 characters, counting characters as
// Starlette decodes them: one per byte (latin-1). "é" in UTF-8 is two
// bytes, so 11 of them are 22 characters there.
func TestBearerTokenShapeCountsLatin1Characters(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", nil, time.Hour)
	header := "Bearer gt-" + strings.Repeat("é", 11) + "." + strings.Repeat("A", 22)
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
	req.Header.Add("Cookie", statecookie.Name+"="+f.cookie(t, alice))
	req.Header.Set("Authorization", header)
	resp, body := f.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Authorization"); len(got) != 0 {
		t.Errorf("Authorization passed on = %q, want none: Gafaelfawr takes the value for a token and removes it", got)
	}
}

// Starlette's cookie parser unquotes a quoted value with
// http.cookies._unquote, which also decodes backslash escapes: "\147" is "g".
func TestStateCookieBackslashEscapesAreUnquoted(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", nil, time.Hour)
	value := f.cookie(t, alice)
	if value[0] != 'g' {
		t.Fatalf("cookie value starts with %q, want g", value[0])
	}
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
	req.Header.Add("Cookie", statecookie.Name+`="\147`+value[1:]+`"`)
	resp, body := f.do(t, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-Request-User") != "alice" {
		t.Errorf("status = %d, user %q, want 200 for alice; body %s",
			resp.StatusCode, resp.Header.Get("X-Auth-Request-User"), body)
	}
}

// minimum_lifetime=10000000000 is a valid timedelta for pydantic (under
// 999,999,999 days); Gafaelfawr's check_lifetime then refuses it with
// invalid_minimum_lifetime, as it does any value over the token lifetime
// less 300 seconds.
func TestHugeMinimumLifetimeIsInvalidMinimumLifetime(t *testing.T) {
	f := newFixture(t, options{tokenLifetime: 30 * 24 * time.Hour})
	parent := f.mintParent(t, "alice", nil, time.Hour)
	resp, body := f.delegate(t, parent, "delegate_to=svc&minimum_lifetime=10000000000")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `"type":"invalid_minimum_lifetime"`) {
		t.Errorf("body = %s, want type invalid_minimum_lifetime", body)
	}
}
