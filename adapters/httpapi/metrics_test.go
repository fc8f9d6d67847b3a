package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

func TestMetricsCountRequestsAndServiceEvents(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	f.delegate(t, parent, "notebook=true")                              // miss, lookup, created
	f.delegate(t, parent, "notebook=true")                              // hit
	f.delegate(t, parent, "delegate_to=portal&delegate_scope=read:all") // miss, lookup, created
	f.get(t, "Digest abc", "/auth/delegate?notebook=true")              // bad_request
	f.get(t, "", "/auth/delegate?notebook=true")                        // invalid_token
	f.delegate(t, parent, "notebook=true&minimum_lifetime=x")           // invalid_parameter
	causeStoreError(t, f.metrics)                                       // miss, then unavailable

	resp, body := f.get(t, "", "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	lines := strings.Split(body, "\n")
	for _, want := range []string{
		`tokencache_delegate_requests_total{outcome="ok"} 3`,
		`tokencache_delegate_requests_total{outcome="bad_request"} 1`,
		`tokencache_delegate_requests_total{outcome="invalid_token"} 1`,
		`tokencache_delegate_requests_total{outcome="invalid_parameter"} 1`,
		`tokencache_delegate_requests_total{outcome="unavailable"} 1`,
		`tokencache_delegate_requests_total{outcome="forbidden"} 0`,
		`tokencache_delegate_requests_total{outcome="rate_limited"} 0`,
		`tokencache_delegate_duration_seconds_count 7`,
		`tokencache_cache_hits_total{token_type="notebook"} 1`,
		`tokencache_cache_misses_total{token_type="notebook"} 2`,
		`tokencache_cache_misses_total{token_type="internal"} 1`,
		`tokencache_repository_lookups_total{found="false",token_type="notebook"} 2`,
		`tokencache_repository_lookups_total{found="false",token_type="internal"} 1`,
		`tokencache_children_created_total{token_type="notebook"} 1`,
		`tokencache_children_created_total{token_type="internal"} 1`,
		`tokencache_children_refused_total{token_type="notebook"} 0`,
		`tokencache_children_refused_total{token_type="internal"} 0`,
		`tokencache_store_errors_total{operation="token_store.store"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("/metrics lacks the line %s", want)
		}
	}
	if !strings.Contains(body, "\ngo_goroutines ") {
		t.Error("/metrics lacks the Go runtime collector")
	}
	if strings.Contains(body, "alice") || strings.Contains(body, "bob") {
		t.Error("/metrics holds a username")
	}
}

// causeStoreError makes one request whose child cannot be stored, through
// a second fixture that counts into metrics.
func causeStoreError(t *testing.T, metrics *httpapi.Metrics) {
	t.Helper()
	g := newFixture(t, options{metrics: metrics, wrap: func(s ports.TokenStore) ports.TokenStore {
		return &failingStore{TokenStore: s, failStore: true}
	}})
	parent := g.mintParent(t, "bob", parentScopes, time.Hour)
	if resp, _ := g.delegate(t, parent, "notebook=true"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
}

func TestMetricsCountParentLookupFailures(t *testing.T) {
	// When Redis is down every request fails here, before the service is
	// asked, so this is the store error an operator most needs to see.
	f := newFixture(t, options{wrap: func(s ports.TokenStore) ports.TokenStore {
		return &failingStore{TokenStore: s, failGet: true}
	}})
	for range 2 {
		if resp, _ := f.delegate(t, newToken(t), "notebook=true"); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", resp.StatusCode)
		}
	}
	_, body := f.get(t, "", "/metrics")
	want := `tokencache_store_errors_total{operation="token_store.get_parent"} 2`
	if !slices.Contains(strings.Split(body, "\n"), want) {
		t.Errorf("/metrics lacks the line %s", want)
	}
}

func TestMetricsFoldUnknownLabelValues(t *testing.T) {
	// Labels come from fixed sets, so that no caller can put a secret or
	// unbounded text into a series.
	m := httpapi.NewMetrics()
	m.StoreError(`token_store.get{secret="x"}`)
	m.StoreError("")
	m.CacheHit(domain.TokenType("no such type"))
	f := newFixture(t, options{metrics: m})
	_, body := f.get(t, "", "/metrics")
	lines := strings.Split(body, "\n")
	for _, want := range []string{
		`tokencache_store_errors_total{operation="other"} 2`,
		`tokencache_cache_hits_total{token_type="other"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("/metrics lacks the line %s", want)
		}
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "no such type") {
		t.Errorf("/metrics passed a label value through:\n%s", body)
	}
}
