package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

func TestServerServesBeyondTheConnectionLimitOnceOneFrees(t *testing.T) {
	const limit = 2
	tests := []struct {
		name string
		cfg  httpapi.ServerConfig
		// fill opens limit connections; free makes one of them go, or
		// nothing if the server frees one itself.
		fill func(t *testing.T, addr string) []*rawConn
		free func(conns []*rawConn)
		// queued: the extra connection waits before free.
		queued bool
		// after checks the first connections once the extra one is
		// served.
		after func(t *testing.T, conns []*rawConn)
	}{
		{
			name:   "the client closes one",
			cfg:    httpapi.ServerConfig{MaxConnections: limit},
			fill:   silent,
			free:   func(conns []*rawConn) { conns[0].conn.Close() },
			queued: true,
		},
		{
			name:   "the header timeout closes one",
			cfg:    httpapi.ServerConfig{MaxConnections: limit, ReadHeaderTimeout: time.Second},
			fill:   silent,
			free:   func([]*rawConn) {},
			queued: true,
		},
		{
			name: "an idle one is closed",
			cfg:  httpapi.ServerConfig{MaxConnections: limit},
			fill: idle,
			free: func([]*rawConn) {},
			after: func(t *testing.T, conns []*rawConn) {
				if !conns[0].closedWithin(time.Second) && !conns[1].closedWithin(time.Second) {
					t.Error("no idle connection was closed")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveLoopback(t, tt.cfg, answerOK)
			conns := tt.fill(t, addr)
			extra := dialRaw(t, addr)
			extra.get("/")
			if tt.queued && !extra.unanswered(300*time.Millisecond) {
				t.Fatal("a connection beyond the limit was served")
			}
			tt.free(conns)
			if status, _ := extra.answer(3 * time.Second); status != http.StatusOK {
				t.Errorf("status %d, want 200", status)
			}
			if tt.after != nil {
				tt.after(t, conns)
			}
		})
	}
}

// silent opens limit connections that send nothing.
func silent(t *testing.T, addr string) []*rawConn {
	t.Helper()
	conns := make([]*rawConn, 2)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
	}
	return conns
}

// idle opens limit keep-alive connections, each after one request.
func idle(t *testing.T, addr string) []*rawConn {
	t.Helper()
	conns := make([]*rawConn, 2)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
		conns[i].get("/")
		if status, _ := conns[i].answer(2 * time.Second); status != http.StatusOK {
			t.Fatalf("status %d, want 200", status)
		}
	}
	return conns
}

func TestServerShutsDownWithAConnectionWaitingAtTheLimit(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	srv, err := httpapi.Listen(context.Background(), httpapi.ServerConfig{Addr: "127.0.0.1:0", MaxConnections: 1}, handler)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	inFlight := dialRaw(t, srv.Addr().String())
	inFlight.get("/")
	<-entered
	waiting := dialRaw(t, srv.Addr().String())
	waiting.get("/")
	stop()
	if !waiting.closedWithin(2 * time.Second) {
		t.Error("the connection waiting for room still open after shutdown began")
	}
	close(release)
	if status, body := inFlight.answer(2 * time.Second); status != http.StatusOK || body != "finished" {
		t.Errorf("in-flight request got %d %q, want it finished", status, body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("Serve still running after its requests finished")
	}
}
