package postgres

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tokencache/tokencache/internal/integration"
)

// watchCountingContext is a context that never ends and counts the
// watches begun on it (context.AfterFunc) and not yet stopped.
type watchCountingContext struct {
	context.Context
	done chan struct{}
	live atomic.Int64
}

func newWatchCountingContext() *watchCountingContext {
	return &watchCountingContext{Context: context.Background(), done: make(chan struct{})}
}

// Done is a channel of its own, so that context.AfterFunc calls AfterFunc.
func (c *watchCountingContext) Done() <-chan struct{} { return c.done }

func (c *watchCountingContext) AfterFunc(func()) func() bool {
	c.live.Add(1)
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() { c.live.Add(-1); stopped = true })
		return stopped
	}
}

// tlsRefuser accepts connections and answers an SSLRequest with no, as a
// server without TLS does; anything else it closes at once. It counts the
// connections of the first kind, and those the client has closed.
type tlsRefuser struct {
	addr     netip.AddrPort
	mu       sync.Mutex
	accepted int
	closed   int
}

func startTLSRefuser(t *testing.T) *tlsRefuser {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	r := &tlsRefuser{addr: l.Addr().(*net.TCPAddr).AddrPort()}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(conn)
		}
	}()
	return r
}

func (r *tlsRefuser) serve(conn net.Conn) {
	defer conn.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(conn, head); err != nil || binary.BigEndian.Uint32(head[4:]) != 80877103 {
		return // a startup message: refused
	}
	r.mu.Lock()
	r.accepted++
	r.mu.Unlock()
	if _, err := conn.Write([]byte("N")); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, conn) // until the client closes it
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
}

func (r *tlsRefuser) counts() (accepted, closed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted, r.closed
}

// lib/pq may dial several times within one connection's handshake: each
// host of a list in turn, and with sslmode=prefer the same host again
// without TLS when the server has none, leaving the first connection open. A
// connection it gave up on must be closed and no longer watched with the
// handshake's context, which can outlive it by far (database/sql opens
// connections on a context of its own).
func TestConnectLeavesNoConnectionLibPQGaveUpOn(t *testing.T) {
	t.Parallel()
	cfg, err := pq.NewConfig(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	refuser := startTLSRefuser(t)
	real := pq.ConfigMultihost{Host: cfg.Host, Hostaddr: cfg.Hostaddr, Port: cfg.Port}
	cfg.Host, cfg.Hostaddr, cfg.Port = refuser.addr.Addr().String(), netip.Addr{}, refuser.addr.Port()
	cfg.Multi = append([]pq.ConfigMultihost{real}, cfg.Multi...)
	cfg.SSLMode = pq.SSLModePrefer
	cfg.ConnectTimeout = defaultConnectTimeout // as Open sets it
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(newDialer())
	c := newConnector(pc, &cfg, time.Minute, clientCheckInterval)
	ctx := newWatchCountingContext()
	dc, err := c.Connect(ctx)
	if err != nil {
		t.Fatalf("connecting past the first host: %v", err)
	}
	defer dc.Close()
	if n := ctx.live.Load(); n != 0 {
		t.Errorf("%d watches with the handshake's context still live once connected", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		accepted, closed := refuser.counts()
		if accepted > 0 && closed == accepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d connections refused TLS still open 2 s after connecting", accepted-closed, accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
