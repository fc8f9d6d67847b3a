package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
)

// HealthCheck is one dependency that GET /healthz checks.
type HealthCheck struct {
	// Name identifies the dependency in the 503 body and the log, such as
	// "token_store". It must not hold a secret.
	Name string

	// Check returns nil if the dependency answers, honouring ctx's
	// deadline.
	Check func(ctx context.Context) error
}

// HealthChecks are the checks GET /healthz runs.
type HealthChecks []HealthCheck

// healthBody is the body of GET /healthz. Failed lists the names of the
// failed checks, never their errors, which go to the log.
type healthBody struct {
	Status string   `json:"status"`
	Failed []string `json:"failed,omitempty"`
}

// healthHandler serves GET /healthz: 200 if every check passes, else 503.
type healthHandler struct {
	checks HealthChecks
	logger *slog.Logger
}

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	failed := h.run(r.Context())
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Failed: failed})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

// run runs the checks at once, so that one slow store does not use up the
// others' share of the deadline, and returns the names of those that
// failed, sorted.
func (h *healthHandler) run(ctx context.Context) []string {
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	for _, c := range h.checks {
		wg.Go(func() {
			if err := c.Check(ctx); err != nil {
				h.logger.WarnContext(ctx, "health check failed",
					slog.String("check", c.Name), slog.String("error", err.Error()))
				mu.Lock()
				failed = append(failed, c.Name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	return failed
}
