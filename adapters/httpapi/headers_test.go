package httpapi_test

import (
	"errors"
	"fmt"
	"io"
	"net"
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

// A header's fields are bounded too: net/http parses each into its map as
// it comes, some 200 bytes each, so a header of the shortest fields under
// MaxHeaderBytes would take some 30 times its size while it is unfinished.
// Many fields, finished or not, get 400 and the connection closed at once
// past the bound (the client, still writing, may see the close as a reset
// before the answer); a request with as many as a real one has, and a
// pipelined second one, are served.
func TestServerBoundsHeaderFields(t *testing.T) {
	fields := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X%x:\r\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name string
		head string
		want []int
	}{
		{"many short fields, never finished", "GET / HTTP/1.1\r\nHost: tokencache\r\n" + fields(8900), []int{http.StatusBadRequest}},
		{"many short fields", "GET / HTTP/1.1\r\nHost: tokencache\r\n" + fields(2000) + "\r\n", []int{http.StatusBadRequest}},
		{"a hundred fields, twice", strings.Repeat("GET / HTTP/1.1\r\nHost: tokencache\r\n"+fields(100)+"\r\n", 2),
			[]int{http.StatusOK, http.StatusOK}},
		{"bare line ends", "GET / HTTP/1.1\nHost: tokencache\n" + strings.ReplaceAll(fields(100), "\r\n", "\n") + "\n",
			[]int{http.StatusOK}},
		// Read whole at once, these used to reach the handler, cancelled,
		// or cut short with the rest taken for a second request.
		{"just past the bound", "GET / HTTP/1.1\r\nHost: tokencache\r\n" + fields(1000) + "\r\n", []int{http.StatusBadRequest}},
		{"the same field many times", "GET / HTTP/1.1\r\nHost: tokencache\r\n" + strings.Repeat("X: y\r\n", 2000) + "\r\n", []int{http.StatusBadRequest}},
		{"within the bound", "GET / HTTP/1.1\r\nHost: tokencache\r\n" + fields(997) + "\r\n", []int{http.StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveLoopback(t, httpapi.ServerConfig{}, answerOK)
			c := dialRaw(t, addr)
			go func() { _, _ = io.WriteString(c.conn, tt.head) }()
			for i, want := range tt.want {
				if want != http.StatusOK {
					refusedAtOnce(t, c)
					noMoreAnswers(t, c)
					continue
				}
				if status, _ := c.answer(2 * time.Second); status != want {
					t.Errorf("answer %d: status %d, want %d", i+1, status, want)
				}
			}
		})
	}
}

// TestServerBoundsHeaderFieldsSentInPieces: a header whose pieces each end
// part-way through a line is bounded as one sent whole.
func TestServerBoundsHeaderFieldsSentInPieces(t *testing.T) {
	addr := serveLoopback(t, httpapi.ServerConfig{}, answerOK)
	c := dialRaw(t, addr)
	go func() {
		if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: tokencache\r\n"); err != nil {
			return
		}
		for range 20 {
			// Each piece ends within a line whose halves are both fields:
			// "a:a:" here, "a:a" in the next piece.
			if _, err := io.WriteString(c.conn, strings.Repeat("a:a\r\n", 300)+"a:a:"); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		_, _ = io.WriteString(c.conn, "a:a\r\n\r\n")
	}()
	refusedAtOnce(t, c)
	noMoreAnswers(t, c)
}

// noMoreAnswers checks that after refusing a header the server answers
// nothing more on c: the rest of that header is not read as a request.
func noMoreAnswers(t *testing.T, c *rawConn) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if resp, err := http.ReadResponse(c.r, nil); err == nil {
		resp.Body.Close()
		t.Errorf("a second answer, %d, after the header was refused", resp.StatusCode)
	}
}

// refusedAtOnce checks that the server answers 400 or closes c within two
// seconds, well before its read header timeout.
func refusedAtOnce(t *testing.T, c *rawConn) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	var ne net.Error
	switch {
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("neither an answer nor a close within 2s: %v", err)
	}
}
