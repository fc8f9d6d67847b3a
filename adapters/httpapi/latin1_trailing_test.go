package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Gafaelfawr's parse_authorization splits the latin-1 header with
// header.split(None, 1): the blob keeps white space at its end (the HTTP
// parser trims only spaces and tabs), so "Bearer <token>\xa0" is a
// 23-character secret, "Token is malformed" (401), and
// "Basic <b64>\xa0" is not ASCII for b64decode, "Invalid Basic auth
// string" (403, 400). tokencache strips the blob's end with
// trimHeaderSpace and authenticates both.
func TestTrailingLatin1SpaceIsPartOfTheCredential(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	basic := base64.StdEncoding.EncodeToString([]byte(alice.String() + ":x-oauth-basic"))
	for name, tc := range map[string]struct {
		header      string
		status      int
		errorStatus string
	}{
		"bearer A0": {"Bearer " + alice.String() + "\xa0", http.StatusUnauthorized, "401"},
		"bearer 85": {"Bearer " + alice.String() + "\x85", http.StatusUnauthorized, "401"},
		"basic A0":  {"Basic " + basic + "\xa0", http.StatusForbidden, "400"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.get(t, tc.header, "/auth/delegate")
			if resp.StatusCode != tc.status || resp.Header.Get("X-Error-Status") != tc.errorStatus {
				t.Errorf("status %d, X-Error-Status %q, user %q; want %d (X-Error-Status %q) as Gafaelfawr answers",
					resp.StatusCode, resp.Header.Get("X-Error-Status"), resp.Header.Get("X-Auth-Request-User"),
					tc.status, tc.errorStatus)
			}
		})
	}
}

// The same through a real listener: Go's server passes the trailing A0
// on (it trims only spaces and tabs), so the leniency is reachable.
func TestTrailingLatin1SpaceIsPartOfTheCredentialOverTheWire(t *testing.T) {
	f := newFixture(t, options{})
	alice := f.mintParent(t, "alice", []string{"read:all"}, time.Hour)
	resp := f.overTheWire(t, fmt.Sprintf("Bearer %s\xa0", alice.String()))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, user %q; want 401 (Gafaelfawr: \"Token is malformed\")",
			resp.StatusCode, resp.Header.Get("X-Auth-Request-User"))
	}
}
