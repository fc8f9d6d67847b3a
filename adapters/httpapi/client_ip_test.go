package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClientIPIsThePeerNotAForwardedHeader(t *testing.T) {
	tests := []struct {
		name, remoteAddr, want string
	}{
		{"IPv4", "198.51.100.7:4321", "198.51.100.7"},
		{"IPv6", "[2001:db8::7]:4321", "2001:db8::7"},
		{"IPv4-mapped IPv6", "[::ffff:198.51.100.7]:4321", "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			req := httptest.NewRequest(http.MethodGet, "/auth/delegate?notebook=true", nil)
			req.RemoteAddr = tt.remoteAddr
			req.Header.Set("Authorization", "Bearer "+parent.String())
			// Anyone can send these; the history must not believe them.
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Real-IP", "203.0.113.9")
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, req)
			resp := rec.Result()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			child := f.childData(t, resp)
			f.remember(child.Token.Secret)
			if h := f.repo.History(child.Token.Key); len(h) != 1 || h[0].IPAddress != tt.want {
				t.Errorf("history = %+v, want one entry from %s", h, tt.want)
			}
		})
	}
}
