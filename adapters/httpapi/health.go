package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
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

// errCheckPanicked is the error of a health check that panicked.
var errCheckPanicked = errors.New("the check panicked")

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
// failed, sorted. A check still running when ctx ends counts as failed
// and is left to finish on its own: the answer must not wait for a store
// call stuck past the deadline.
func (h *healthHandler) run(ctx context.Context) []string {
	type result struct {
		check int
		err   error
	}
	results := make(chan result, len(h.checks)) // room for the late ones
	for i, c := range h.checks {
		go func() {
			r := result{check: i, err: errCheckPanicked}
			// A store driver's panic fails the check, as it would fail a
			// request's work (untilDone), rather than the process.
			defer func() {
				_ = recover() // not the value: it might quote a token
				results <- r
			}()
			r.err = c.Check(ctx)
		}()
	}
	pending := make(map[int]bool, len(h.checks))
	for i := range h.checks {
		pending[i] = true
	}
	var failed []string
	for len(pending) > 0 {
		select {
		case r := <-results:
			delete(pending, r.check)
			if r.err != nil {
				h.logger.WarnContext(ctx, "health check failed",
					slog.String("check", h.checks[r.check].Name), slog.String("error", r.err.Error()))
				failed = append(failed, h.checks[r.check].Name)
			}
		case <-ctx.Done():
			for i := range pending {
				h.logger.WarnContext(ctx, "health check timed out", slog.String("check", h.checks[i].Name))
				failed = append(failed, h.checks[i].Name)
			}
			pending = nil
		}
	}
	slices.Sort(failed)
	return failed
}
