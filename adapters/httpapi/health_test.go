package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/ports"
)

func TestHealthzOK(t *testing.T) {
	f := newFixture(t, options{})
	resp, body := f.get(t, "", "/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
	}
	var b struct{ Status string }
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Status != "ok" {
		t.Errorf("body = %s, want {\"status\":\"ok\"}", body)
	}
}

func TestHealthzUnavailable(t *testing.T) {
	f := newFixture(t, options{wrap: func(s ports.TokenStore) ports.TokenStore {
		return &failingStore{TokenStore: s, failGet: true}
	}})
	// The fixture's default checks use the wrapped store.
	resp, body := f.get(t, "", "/healthz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503; body %s", resp.StatusCode, body)
	}
	var b struct {
		Status string
		Failed []string
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Status != "unavailable" ||
		len(b.Failed) != 1 || b.Failed[0] != "token_store" {
		t.Errorf("body = %s, want status unavailable with failed [token_store]", body)
	}
	if strings.Contains(body, "10.0.0.1") {
		t.Errorf("body %s reveals the store's error", body)
	}
	if !strings.Contains(f.logs.String(), "connection refused") {
		t.Errorf("the log does not say why: %s", f.logs.String())
	}
}

func TestHealthzHonoursTimeout(t *testing.T) {
	stuck := httpapi.HealthCheck{Name: "stuck", Check: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	f := newFixture(t, options{health: httpapi.HealthChecks{stuck}, timeout: 20 * time.Millisecond})
	resp, body := f.get(t, "", "/healthz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "stuck") {
		t.Fatalf("status = %d, body %s; want 503 naming the stuck check", resp.StatusCode, body)
	}
}
