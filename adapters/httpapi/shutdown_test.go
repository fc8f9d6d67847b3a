package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

// The shutdown timeout ends in failure only if a request is still in
// flight when it passes. net/http's Shutdown looks for busy connections at
// intervals that grow to 500 ms (after some 0.51 s, next some 1.01 s), and
// reports its deadline if a request was in flight at its last look.

// shutdownTimeout is the servers' shutdown timeout in these tests.
const shutdownTimeout = time.Second

// serveBlocking serves, with shutdownTimeout, a handler that answers
// "finished" once release is closed, and tells entered of each request it
// starts. It returns the server and the channel Serve's result arrives on
// once stop is called.
func serveBlocking(t *testing.T, entered chan<- struct{}, release <-chan struct{}) (*httpapi.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	srv, err := httpapi.Listen(context.Background(),
		httpapi.ServerConfig{Addr: "127.0.0.1:0", ShutdownTimeout: shutdownTimeout}, handler)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	return srv, stop, served
}

// A request that ends 0.75 s into a 1 s shutdown timeout was seen in
// flight at Shutdown's look at some 0.51 s, and Shutdown's next look comes
// after the deadline: Serve returned "shutting down: context deadline
// exceeded" though no request was left.
func TestShutdownSucceedsWhenTheLastRequestEndsLateInTheTimeout(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srv, stop, served := serveBlocking(t, entered, release)
	conn := dialRaw(t, srv.Addr().String())
	conn.get("/")
	<-entered

	stop()
	waitRefused(t, srv.Addr().String())
	time.Sleep(750*time.Millisecond - 10*time.Millisecond) // waitRefused took a few ms
	close(release)
	if status, body := conn.answer(2 * time.Second); status != http.StatusOK || body != "finished" {
		t.Errorf("the request in flight got %d %q, want it finished", status, body)
	}
	answered := time.Now()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v %v after the request was answered; want nil: no request was in flight at the end of the timeout",
				err, time.Since(answered).Round(time.Millisecond))
		}
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("Serve did not return")
	}
	if !conn.closedWithin(time.Second) {
		t.Error("the connection is still open after Serve returned")
	}
}

// A request still running when the shutdown timeout passes fails the
// shutdown, and its connection is closed.
func TestShutdownFailsWhenARequestOutlastsTheTimeout(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srv, stop, served := serveBlocking(t, entered, release)
	running := goleak.IgnoreCurrent()
	conn := dialRaw(t, srv.Addr().String())
	conn.get("/")
	<-entered

	start := time.Now()
	stop()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "requests still in flight (1)") {
			t.Errorf("Serve = %v, want the deadline and 1 request still in flight", err)
		}
		if elapsed := time.Since(start); elapsed < shutdownTimeout || elapsed > shutdownTimeout+time.Second {
			t.Errorf("Serve returned %v after shutdown began, want about %v", elapsed.Round(time.Millisecond), shutdownTimeout)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return")
	}
	if !conn.closedWithin(time.Second) {
		t.Error("the connection of the request in flight is still open after Serve returned")
	}
	close(release)
	// Only the handler, left to run to its end as net/http leaves it,
	// held a goroutine.
	goleak.VerifyNone(t, running)
}
