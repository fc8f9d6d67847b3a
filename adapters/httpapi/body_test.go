package httpapi_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

// bodyLength answers with the length of the request body the handler
// could read.
var bodyLength = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = io.WriteString(w, strconv.Itoa(len(b)))
})

func TestServerAnswersWithoutWaitingForABody(t *testing.T) {
	tests := []struct {
		name    string
		request string // declaring a body, sent in full or not
	}{
		{"content length, never sent", "Content-Length: 100\r\n\r\n"},
		{"chunked, never sent", "Transfer-Encoding: chunked\r\n\r\n"},
		{"expecting 100-continue", "Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"},
		{"half sent", "Content-Length: 100\r\n\r\nhello"},
		{"sent", "Content-Length: 5\r\n\r\nhello"},
		{"chunked, sent", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	}
	addr := serveLoopback(t, httpapi.ServerConfig{}, bodyLength)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: tokencache\r\n" + tt.request)
			if status, body := c.answer(time.Second); status != http.StatusOK || body != "0" {
				t.Errorf("answer = %d %q, want 200 with no body read", status, body)
			}
			// What is left of the body would be read as the next request.
			if !c.closedWithin(time.Second) {
				t.Error("connection still open after the answer")
			}
		})
	}
}

func TestServerKeepsNoGoroutineForStalledBodies(t *testing.T) {
	const stalled = 100
	addr := serveLoopback(t, httpapi.ServerConfig{}, answerOK)
	// Once a request is answered, the server's goroutines are all running;
	// this connection's stays, waiting for the next request.
	probe := dialRaw(t, addr)
	probe.get("/")
	probe.answer(2 * time.Second)
	running := goleak.IgnoreCurrent()
	conns := make([]*rawConn, stalled)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
		conns[i].send("GET / HTTP/1.1\r\nHost: tokencache\r\nContent-Length: 100\r\n\r\n")
	}
	for i, c := range conns {
		if status, _ := c.answer(2 * time.Second); status != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i, status)
		}
	}
	// The clients keep their ends open: only the server can let go.
	goleak.VerifyNone(t, running)
}
