package httpapi

import (
	"log/slog"
	"net/http"
)

// recoverPanics turns a panicking handler into a 500 with a generic body
// and one log record, instead of net/http's stack trace in the log and a
// dropped connection.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response on purpose
			}
			logger.ErrorContext(r.Context(), "handler panicked", slog.String("path", bounded(r.URL.Path)))
			requestInfoFrom(r.Context()).outcome = outcomeInternal
			(&problem{status: http.StatusInternalServerError, kind: "internal_error",
				msg: "Internal error"}).write(w)
		}()
		next.ServeHTTP(w, r)
	})
}
