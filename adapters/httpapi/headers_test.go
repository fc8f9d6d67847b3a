package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

func TestServerBoundsHeaders(t *testing.T) {
	tests := []struct {
		name       string
		max        int // ServerConfig.MaxHeaderBytes
		cookie     int // bytes of the Cookie header's value
		unfinished bool
		want       int
	}{
		{"default: a large cookie", 0, httpapi.DefaultMaxHeaderBytes - 1<<10, false, http.StatusOK},
		{"default: too large, never finished", 0, httpapi.DefaultMaxHeaderBytes + 8<<10, true, http.StatusRequestHeaderFieldsTooLarge},
		{"set: within", 16 << 10, 15 << 10, false, http.StatusOK},
		{"set: too large", 16 << 10, 24 << 10, false, http.StatusRequestHeaderFieldsTooLarge},
		{"set: too large, never finished", 16 << 10, 256 << 10, true, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveLoopback(t, httpapi.ServerConfig{MaxHeaderBytes: tt.max}, answerOK)
			c := dialRaw(t, addr)
			head := "GET / HTTP/1.1\r\nHost: tokencache\r\nCookie: gafaelfawr=" + strings.Repeat("a", tt.cookie)
			if !tt.unfinished {
				head += "\r\n\r\n"
			}
			// The server may stop reading before the end: write aside, and
			// see that it answers without waiting for the rest.
			go func() { _, _ = io.WriteString(c.conn, head) }()
			if status, _ := c.answer(2 * time.Second); status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
		})
	}
}
