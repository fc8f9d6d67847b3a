package httpapi_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

func TestWatchCleanupsServesTheGauge(t *testing.T) {
	m := httpapi.NewMetrics()
	pending := 3
	m.WatchCleanups(func() int { return pending })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "\ntokencache_cleanups_pending 3\n") {
		t.Fatalf("metrics lack tokencache_cleanups_pending 3:\n%s", body)
	}
}
