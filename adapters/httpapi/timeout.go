package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultRequestTimeout bounds a request when Config leaves it at zero.
const DefaultRequestTimeout = 10 * time.Second

// errRequestTimeout is the cause of a request context that timed out, which
// tells a timeout from a client that went away.
var errRequestTimeout = errors.New("request timeout")

// withTimeout gives each request a deadline that the service and the
// stores honour, so that a stuck store yields a 503 rather than a request
// that hangs until nginx gives up.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeoutCause(r.Context(), d, errRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
