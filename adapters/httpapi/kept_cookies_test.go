package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An application's own cookies are passed on as they came: Gafaelfawr's
// clean_cookies only drops the state cookie and keeps every other pair's
// bytes. "voilà" sent as UTF-8 ends in the bytes C3 A0, and "х"
// (Cyrillic) in D1 85; stripHeaderSpace takes the A0 or 85 byte for a
// latin-1 no-break space or NEL and cuts it, leaving half a character.
func TestAppCookieEndingInUTF8ContinuationIsPassedOnIntact(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", nil, time.Hour)
	for _, cookie := range []string{
		"greeting=voilà; theme=dark",
		"theme=dark; word=смех",
	} {
		req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
		req.Header.Set("Authorization", "Bearer "+alice.String())
		req.Header.Set("Cookie", cookie)
		resp, body := f.do(t, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Cookie"); got != cookie {
			t.Errorf("Cookie passed on = %q, want %q", got, cookie)
		}
	}
}
