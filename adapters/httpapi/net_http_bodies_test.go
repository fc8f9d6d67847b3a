package httpapi_test

import (
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

// net/http reads a request's body itself, before or instead of the
// server's handler (and so withoutBodies), in two cases: "OPTIONS *",
// which its global OPTIONS handler answers, and an Expect header other
// than 100-continue, which it answers 417 and then drains. A client that
// declares a body and never sends it must not hold its connection, slot
// and goroutine past the server's timeouts.
var bodyReadByNetHTTP = []struct{ name, request string }{
	{"OPTIONS * with Content-Length", "OPTIONS * HTTP/1.1\r\nHost: tokencache\r\nContent-Length: 1\r\n\r\n"},
	{"OPTIONS * chunked", "OPTIONS * HTTP/1.1\r\nHost: tokencache\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"Expect other than 100-continue with Content-Length", "GET / HTTP/1.1\r\nHost: tokencache\r\nExpect: x\r\nContent-Length: 1\r\n\r\n"},
	{"Expect other than 100-continue chunked", "GET / HTTP/1.1\r\nHost: tokencache\r\nExpect: x\r\nTransfer-Encoding: chunked\r\n\r\n"},
}

func TestServerClosesConnectionsWhoseBodyNetHTTPReads(t *testing.T) {
	const short = 200 * time.Millisecond
	for _, tt := range bodyReadByNetHTTP {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serveLoopback(t, httpapi.ServerConfig{
				ReadHeaderTimeout: short, WriteTimeout: short, IdleTimeout: short,
			}, answerOK)
			c := dialRaw(t, addr)
			c.send(tt.request)
			if !c.closedWithin(3 * time.Second) {
				t.Error("a body declared and never sent: connection still open after 3s, 15 times every timeout of the server")
			}
		})
	}
}

// At the connection limit, such requests shut every other client out.
func TestServerBodiesNetHTTPReadsCannotHoldEverySlot(t *testing.T) {
	const short = 200 * time.Millisecond
	for _, tt := range bodyReadByNetHTTP {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serveLoopback(t, httpapi.ServerConfig{
				ReadHeaderTimeout: short, WriteTimeout: short, IdleTimeout: short, MaxConnections: 2,
			}, answerOK)
			for range 3 { // the limit, plus the one Accept holds
				dialRaw(t, addr).send(tt.request)
			}
			time.Sleep(100 * time.Millisecond)
			c := dialRaw(t, addr)
			c.get("/")
			_ = c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.r.Peek(1); err != nil {
				t.Errorf("a plain GET is unanswered after 3s (%v): stalled requests hold every connection slot", err)
			}
		})
	}
}
