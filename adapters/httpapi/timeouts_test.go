package httpapi_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

func TestServerTimeoutsCloseConnections(t *testing.T) {
	const short = 200 * time.Millisecond
	tests := []struct {
		name string
		cfg  httpapi.ServerConfig
		// act starts a request on c and leaves it where the timeout
		// should end it.
		act func(c *rawConn)
	}{
		{
			name: "headers not finished",
			cfg:  httpapi.ServerConfig{ReadHeaderTimeout: short},
			act:  func(c *rawConn) { c.send("GET / HTTP/1.1\r\nHost: tokencache\r\n") },
		},
		{
			name: "no request at all",
			cfg:  httpapi.ServerConfig{ReadHeaderTimeout: short},
			act:  func(*rawConn) {},
		},
		{
			name: "idle keep-alive connection",
			cfg:  httpapi.ServerConfig{IdleTimeout: short},
			act: func(c *rawConn) {
				c.get("/")
				if status, _ := c.answer(2 * time.Second); status != http.StatusOK {
					t.Fatalf("status %d, want 200", status)
				}
			},
		},
		{
			name: "answer slower than the write timeout",
			cfg:  httpapi.ServerConfig{WriteTimeout: short},
			act:  func(c *rawConn) { c.get("/slow") },
		},
	}
	handler := http.NewServeMux()
	handler.Handle("/", answerOK)
	handler.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		<-time.After(2 * short) // a handler that is slow, not one that waits for something
		_, _ = io.WriteString(w, "too late")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, serveLoopback(t, tt.cfg, handler))
			tt.act(c)
			if !c.closedWithin(2 * time.Second) {
				t.Error("connection still open after its timeout")
			}
		})
	}
}
