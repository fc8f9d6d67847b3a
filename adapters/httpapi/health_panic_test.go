package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

// A store driver's panic in a health check fails that check, 503, as the
// same call under /auth/delegate fails its request: it does not take the
// process down. The test runs in a child process, which such a panic
// would kill.
func TestHealthCheckThatPanicsFailsTheCheck(t *testing.T) {
	if os.Getenv("TOKENCACHE_TEST_HEALTH_PANIC") == "1" {
		h := httpapi.NewHandler(httpapi.Config{Health: httpapi.HealthChecks{{
			Name:  "token_store",
			Check: func(context.Context) error { panic("driver bug " + strings.Repeat("s", 22)) },
		}}})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "token_store") {
			t.Errorf("status %d, body %s; want 503 naming the check", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "driver bug") {
			t.Errorf("the body quotes the panic: %s", rec.Body)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHealthCheckThatPanicsFailsTheCheck$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKENCACHE_TEST_HEALTH_PANIC=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the child process failed (%v):\n%.1000s", err, out)
	}
}
