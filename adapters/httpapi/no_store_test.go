package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokencache/tokencache/ports"
)

// TestResponsesAreNeverCached: a 200 carries a token in its headers, and
// an error must not be replayed once the cause is gone.
func TestResponsesAreNeverCached(t *testing.T) {
	tests := []struct {
		name       string
		opts       options
		query      string
		wantStatus int
	}{
		{"token handed out", options{}, "notebook=true", http.StatusOK},
		{"authentication only", options{}, "", http.StatusOK},
		{"missing scope", options{}, "scope=admin:token", http.StatusForbidden},
		{"bad parameter", options{}, "notebook=maybe", http.StatusUnprocessableEntity},
		{"store down", options{wrap: func(s ports.TokenStore) ports.TokenStore {
			return &failingStore{TokenStore: s, failStore: true}
		}}, "notebook=true", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			resp, _ := f.delegate(t, f.mintParent(t, "alice", parentScopes, time.Hour), tt.query)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache, no-store" {
				t.Errorf("Cache-Control = %q, want no-cache, no-store, as Gafaelfawr sends", got)
			}
			if resp.StatusCode != http.StatusOK {
				if got := resp.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", got)
				}
			}
		})
	}
}
