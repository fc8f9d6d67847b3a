package httpapi

import (
	"net/http"
	"time"
)

// withoutBodies serves requests without reading their bodies, which no
// endpoint here takes (nginx's auth_request sends none).
//
// Left alone, net/http reads up to 256 KiB of an unread body, before it
// answers and again once the handler returns, to keep the connection: a
// client that declares a body and never sends it would hold its connection
// and goroutine, unanswered, for as long as reads may last. Instead the
// request is handled as if it had no body, no further read of the
// connection waits, and the connection is closed after the answer, since
// the rest of the body would be read as the next request. A client that
// is still sending its body then may see a reset.
func withoutBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 { // -1: chunked, length unknown
			w.Header().Set("Connection", "close")
			// What has already arrived is still read and dropped.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
			r = r.Clone(r.Context())
			r.Body, r.ContentLength = http.NoBody, 0
		}
		next.ServeHTTP(w, r)
	})
}
