package main

import "net/http"

// The answer's constant parts, shaped as the daemon's: a child token has a
// 22-character key and secret, so the headers weigh what the daemon's do.
const (
	floorUser  = "bench"
	floorToken = "gt-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"
)

// floorBody is what the daemon's JSON encoder writes for a success.
var floorBody = []byte(`{"status":"ok"}` + "\n")

// floorHandler answers any request as the daemon answers a hit of
// /auth/delegate with delegate_to: status 200, the same headers, the same
// body, and no other work.
type floorHandler struct{}

func (floorHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("X-Auth-Request-User", floorUser)
	h.Set("X-Auth-Request-Token", floorToken)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(floorBody) // a failed write means the client left
}
