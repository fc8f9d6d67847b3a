package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientIPIsThePeerWithoutTrustedProxies(t *testing.T) {
	tests := []struct {
		name, remoteAddr, want string
	}{
		{"IPv4", "198.51.100.7:4321", "198.51.100.7"},
		{"IPv6", "[2001:db8::7]:4321", "2001:db8::7"},
		{"IPv4-mapped IPv6", "[::ffff:198.51.100.7]:4321", "198.51.100.7"},
		{"IPv6 with a zone", "[fe80::7%eth0]:4321", "fe80::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			// Anyone can send these; the history must not believe them.
			got := f.recordedIP(t, tt.remoteAddr, "203.0.113.9")
			if got != tt.want {
				t.Errorf("recorded %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPFromTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: its header is not read", "198.51.100.7:1", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer, no header", "10.0.0.1:1", nil, "10.0.0.1"},
		{"trusted peer, one client", "10.0.0.1:1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"the rightmost untrusted", "10.0.0.1:1", []string{"192.0.2.66, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"all trusted: the leftmost", "10.0.0.1:1", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"IPv6 through an IPv6 proxy", "[fd00::1]:1", []string{"2001:db8::9, fd00::2"}, "2001:db8::9"},
		{"IPv4-mapped peer and entry", "[::ffff:10.0.0.1]:1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"empty entries skipped", "10.0.0.1:1", []string{" , 203.0.113.9,, "}, "203.0.113.9"},
		{"several headers, read as one list", "10.0.0.1:1", []string{"192.0.2.66", "203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"malformed rightmost: the peer", "10.0.0.1:1", []string{"203.0.113.9, garbage"}, "10.0.0.1"},
		{"malformed behind a trusted entry: that entry", "10.0.0.1:1", []string{"203.0.113.9, 203.0.113.9:80, 10.1.2.3"}, "10.1.2.3"},
		{"a zone is malformed", "10.0.0.1:1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"brackets are malformed", "10.0.0.1:1", []string{"[2001:db8::9]"}, "10.0.0.1"},
		{"malformed beyond the client is never read", "10.0.0.1:1", []string{"garbage, 203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{trustedProxies: trusted})
			if got := f.recordedIP(t, tt.peer, tt.xff...); got != tt.want {
				t.Errorf("recorded %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTrustedProxiesWrittenAsMappedIPv6(t *testing.T) {
	f := newFixture(t, options{trustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if got := f.recordedIP(t, "10.0.0.1:1", "203.0.113.9"); got != "203.0.113.9" {
		t.Errorf("recorded %s, want 203.0.113.9", got)
	}
}

// recordedIP asks for a notebook child from remoteAddr with the given
// X-Forwarded-For headers, and returns the address its history records.
func (f *fixture) recordedIP(t *testing.T, remoteAddr string, xff ...string) string {
	t.Helper()
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate?notebook=true", nil)
	req.RemoteAddr = remoteAddr
	req.Header.Set("Authorization", "Bearer "+parent.String())
	for _, h := range xff {
		req.Header.Add("X-Forwarded-For", h)
	}
	req.Header.Set("X-Real-IP", "203.0.113.99")
	resp, body := f.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
	}
	child := f.childData(t, resp)
	h := f.repo.History(child.Token.Key)
	if len(h) != 1 {
		t.Fatalf("history = %+v, want one entry", h)
	}
	return h[0].IPAddress
}
