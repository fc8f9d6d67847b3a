package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

func TestServerFinishesInFlightRequestsOnShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	srv, err := httpapi.Listen(context.Background(), httpapi.ServerConfig{Addr: "127.0.0.1:0"}, handler)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + srv.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()

	<-entered
	stop()
	waitRefused(t, srv.Addr().String())
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request got %q, %v; want it finished", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after a clean shutdown", err)
	}
}

// waitRefused waits until addr refuses connections: the server has begun
// shutting down.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections after shutdown began", addr)
		}
		time.Sleep(5 * time.Millisecond) // polling: there is no event to wait on
	}
}

func TestListenReportsAddressInUse(t *testing.T) {
	first, err := httpapi.Listen(context.Background(), httpapi.ServerConfig{Addr: "127.0.0.1:0"}, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- first.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })

	addr := first.Addr().String()
	_, err = httpapi.Listen(context.Background(), httpapi.ServerConfig{Addr: addr}, http.NotFoundHandler())
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Listen on a used address = %v, want EADDRINUSE naming %s", err, addr)
	}
}

// serveLoopback serves handler with cfg on a free loopback port until the
// test ends, and returns the address.
func serveLoopback(t *testing.T, cfg httpapi.ServerConfig, handler http.Handler) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := httpapi.Listen(context.Background(), cfg, handler)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})
	return srv.Addr().String()
}

// answerOK answers every request 200 "ok".
var answerOK = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

// rawConn is a client connection that writes requests byte by byte as
// the test says, and reads what the server answers.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialRaw connects to addr; the connection is closed when the test ends.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes s; an error fails the test.
func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("writing the request: %v", err)
	}
}

// get sends a complete GET request for path that keeps the connection
// alive.
func (c *rawConn) get(path string) {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: tokencache\r\n\r\n")
}

// answer reads an answer within d and returns its status and body.
func (c *rawConn) answer(d time.Duration) (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("no answer within %v: %v", d, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the answer's body: %v", err)
	}
	return resp.StatusCode, string(body)
}

// unanswered reports whether nothing arrives within d, and the connection
// stays open.
func (c *rawConn) unanswered(d time.Duration) bool {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := c.r.Peek(1)
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedWithin reports whether the server closes the connection within d,
// reading and dropping anything it still sends.
func (c *rawConn) closedWithin(d time.Duration) bool {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestListenRefusesNegativeLimits(t *testing.T) {
	tests := []struct {
		field string
		cfg   httpapi.ServerConfig
	}{
		{"ShutdownTimeout", httpapi.ServerConfig{ShutdownTimeout: -1}},
		{"ReadHeaderTimeout", httpapi.ServerConfig{ReadHeaderTimeout: -1}},
		{"WriteTimeout", httpapi.ServerConfig{WriteTimeout: -1}},
		{"IdleTimeout", httpapi.ServerConfig{IdleTimeout: -1}},
		{"MaxHeaderBytes", httpapi.ServerConfig{MaxHeaderBytes: -1}},
		{"MaxConnections", httpapi.ServerConfig{MaxConnections: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			tt.cfg.Addr = "127.0.0.1:0"
			srv, err := httpapi.Listen(context.Background(), tt.cfg, http.NotFoundHandler())
			if err == nil {
				_ = srv.Serve(canceled()) // releases the port
				t.Fatal("Listen succeeded")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

// canceled is a context that has ended, to stop a server at once.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// A connection that has sent no whole request header holds no request in
// flight: net/http's Shutdown drops any request it reads after shutdown
// begins. So shutdown closes such a connection rather than wait for it:
// Shutdown counts it as busy until it is 5 seconds old, which turned a
// clean SIGTERM into a shutdown timeout.
func TestShutdownClosesConnectionsWithNoRequest(t *testing.T) {
	srv, err := httpapi.Listen(context.Background(),
		httpapi.ServerConfig{Addr: "127.0.0.1:0", ShutdownTimeout: 3 * time.Second}, answerOK)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	var conns []net.Conn
	for _, sent := range []string{"", "GET / HTTP/1.1\r\nHost: x\r\n"} {
		conn, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, sent); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	time.Sleep(200 * time.Millisecond) // both accepted and read

	start := time.Now()
	stop()
	select {
	case err := <-served:
		if err != nil || time.Since(start) > time.Second {
			t.Errorf("Serve = %v after %v; want nil at once", err, time.Since(start).Round(time.Millisecond))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	for i, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d: read %d, %v; want it closed", i, n, err)
		}
	}
}
