package httpapi_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/statecookie"
)

// Starlette reads header values as latin-1, one character a byte, and
// Gafaelfawr's checks run on that text; these tests send what reads
// differently as UTF-8.

// The byte A0 is a no-break space in latin-1, white space to Python's
// str.split: "Bearer<A0><token>" authenticates in Gafaelfawr.
func TestAuthorizationSchemeEndsAtLatin1Space(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	resp, body := f.get(t, "Bearer\xa0"+alice.String(), "/auth/delegate")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-Request-User") != "alice" {
		t.Fatalf("status %d, user %q, WWW-Authenticate %q, body %s; want 200 for alice",
			resp.StatusCode, resp.Header.Get("X-Auth-Request-User"), resp.Header.Get("WWW-Authenticate"), body)
	}
	if got := resp.Header.Get("Authorization"); got != "" {
		t.Errorf("the token's Authorization header %q was passed on", got)
	}
}

// The same byte through a real listener: Go's server hands it on as sent.
func TestAuthorizationSchemeEndsAtLatin1SpaceOverTheWire(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	resp := f.overTheWire(t, fmt.Sprintf("Bearer\xa0%s", alice.String()))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, WWW-Authenticate %q; want 200", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// U+00A0 in UTF-8 is the bytes C2 A0, latin-1 "Â" and a no-break space:
// the scheme is "BearerÂ", which Gafaelfawr does not know.
func TestAuthorizationSchemeIsReadAsLatin1(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	for name, header := range map[string]string{
		"utf-8 no-break space": "Bearer\u00a0" + alice.String(),
		// U+0130 lower-cases to "i" in Go; its latin-1 reading "Ä°" does not.
		"dotted capital I": "BAS\u0130C " + base64.StdEncoding.EncodeToString([]byte(alice.String()+":x-oauth-basic")),
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.get(t, header, "/auth/delegate")
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Error-Status") != "400" ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
				t.Fatalf("status %d, X-Error-Status %q, WWW-Authenticate %q, user %q; want 403 invalid_request (400)",
					resp.StatusCode, resp.Header.Get("X-Error-Status"), resp.Header.Get("WWW-Authenticate"),
					resp.Header.Get("X-Auth-Request-User"))
			}
		})
	}
}

// Gafaelfawr compares X-Requested-With lower-cased with "xmlhttprequest";
// Go's Unicode case folding would take U+017F (long s) for "s".
func TestXRequestedWithFoldsOnlyASCII(t *testing.T) {
	f := newFixture(t, options{})
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
	req.Header.Set("X-Requested-With", "XMLHttpReque\u017ft")
	resp, _ := f.do(t, req)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d; want 401 (the header is not XMLHttpRequest)", resp.StatusCode)
	}
}

// A header of white space only, once the HTTP parser has trimmed spaces
// and tabs, is no credential to Starlette only when nothing is left:
// "\xa0" or "\x1c" is text, which str.split cuts into nothing, so
// Gafaelfawr answers "Malformed Authorization header".
func TestAuthorizationOfLatin1SpaceOnlyIsMalformed(t *testing.T) {
	f := newFixture(t, options{})
	for _, header := range []string{"\xa0", "\x1c", "\x85\xa0"} {
		resp, _ := f.get(t, header, "/auth/delegate")
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Error-Status") != "400" ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), "Malformed Authorization header") {
			t.Errorf("Authorization %q: status %d, X-Error-Status %q, WWW-Authenticate %q; want 403 (400), malformed",
				header, resp.StatusCode, resp.Header.Get("X-Error-Status"), resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// Starlette's cookie parser strips each name and value with str.strip on
// the latin-1 header: the separators 1C to 1F, NEL (85) and the no-break
// space (A0) go too. A state cookie so wrapped authenticates in Gafaelfawr,
// and so it does here, and is not passed on.
func TestStateCookieIsTrimmedAsLatin1(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	value := f.cookie(t, alice)
	for name, header := range map[string]string{
		"value then 1F": statecookie.Name + "=" + value + "\x1f",
		"value then A0": statecookie.Name + "=" + value + "\xa0",
		"name after 85": "a=1;\x85" + statecookie.Name + "=" + value,
		"name then 1C":  statecookie.Name + "\x1c=" + value + "; b=2",
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
			req.Header.Set("Cookie", header)
			resp, body := f.do(t, req)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-Request-User") != "alice" {
				t.Fatalf("status %d, user %q, body %s; want 200 for alice", resp.StatusCode, resp.Header.Get("X-Auth-Request-User"), body)
			}
			if kept := resp.Header.Get("Cookie"); strings.Contains(kept, value) {
				t.Errorf("the state cookie was passed on: %q", kept)
			}
		})
	}
}

// overTheWire sends authorization, byte for byte, as the Authorization
// header of a GET /auth/delegate to f's handler through a real listener,
// past the checks of Go's client, and returns the answer, its body read.
func (f *fixture) overTheWire(t *testing.T, authorization string) *http.Response {
	t.Helper()
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /auth/delegate HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", authorization)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
