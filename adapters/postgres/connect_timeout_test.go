package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
)

// A server, or a pooler in session mode waiting for a server connection,
// may complete the startup and then not answer. Connecting is bounded by
// connect_timeout all the same, whatever its context: Open's, which may
// have no deadline (the migrate command's has none), and that of
// database/sql's own goroutine, which opens connections for callers
// waiting for the pool and ends only with the pool.

// connectTimeoutLeeway is how long past connect_timeout=1 a connection
// attempt may take before it counts as unbounded.
const connectTimeoutLeeway = 2 * time.Second

// isPing matches lib/pq's Ping, the empty query ";".
func isPing(chunk []byte) bool { return bytes.Equal(chunk, []byte("Q\x00\x00\x00\x06;\x00")) }

func TestConnectSetUpIsBoundedByConnectTimeout(t *testing.T) {
	t.Parallel()
	const password = "pw-kept-out-of-errors"
	tests := []struct {
		name  string
		match faultproxy.Matcher
	}{
		{"SetUp", faultproxy.Contains("set_config")},
		{"OpensPing", isPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustOpenDB(t) // migrates
			p := startStallProxy(t)
			u, err := url.Parse(withParams(t, p.url, map[string]string{"connect_timeout": "1"}))
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.UserPassword(u.User.Username(), password) // the server trusts the test user
			p.Inject(faultproxy.Stall, tt.match)
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, cleanup, err := Open(context.Background(), u.String())
				if err == nil {
					cleanup()
				}
				done <- err
			}()
			select {
			case err := <-done:
				elapsed := time.Since(start)
				t.Logf("Open: %v after %v", err, elapsed.Round(time.Millisecond))
				if err == nil {
					t.Fatal("Open succeeded through a server that did not answer")
				}
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect timeout (1s) exceeded") {
					t.Errorf("Open's error %q does not say that the connect timeout passed", err)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("Open's error %q holds the password", err)
				}
				if elapsed < time.Second {
					t.Errorf("Open failed after %v, before connect_timeout", elapsed)
				}
			case <-time.After(time.Second + connectTimeoutLeeway):
				t.Errorf("Open with connect_timeout=1 and no deadline was still running %v after the timeout", connectTimeoutLeeway)
				if err := p.Heal(); err != nil {
					t.Fatal(err)
				}
				t.Logf("once traffic passed: %v", <-done)
			}
		})
	}
}

// connect_timeout bounds each host's attempt, as in libpq, not Connect as
// a whole: a first host that never answers leaves the next its own
// connect_timeout.
func TestConnectTriesTheNextHostWithinItsOwnConnectTimeout(t *testing.T) {
	t.Parallel()
	mustOpenDB(t) // migrates
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	silent := startStallProxy(t)
	silent.Stall()
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	silentHost, silentPort, err := net.SplitHostPort(silent.Addr())
	if err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s,%s port=%s,%s user=%s dbname=%s sslmode=disable connect_timeout=1",
		silentHost, host, silentPort, port, u.User.Username(), strings.TrimPrefix(u.Path, "/"))
	start := time.Now()
	db, cleanup, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open past a first host that never answers: %v", err)
	}
	t.Cleanup(cleanup)
	t.Logf("connected to the second host after %v", time.Since(start).Round(time.Millisecond))
	var one int
	if err := db.Get(&one, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

// database/sql opens the connection that replaces a bad one, for a caller
// waiting for the pool, in a goroutine of its own on a context that ends
// only with the pool. A connection whose set-up the server never answers
// must not take its place in the pool for good: with a pool of one, no
// caller would ever be served again, even once the server answers every
// new connection.
func TestStalledSetUpDoesNotTakeThePoolSlotForGood(t *testing.T) {
	t.Parallel()
	mustOpenDB(t) // migrates
	p := startSetUpHolder(t)
	db, cleanup, err := Open(context.Background(), withParams(t, p.url, map[string]string{"connect_timeout": "1"}), MaxConnections(1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(cleanup)

	// The pool's one connection goes bad while a caller waits for it, and
	// the server does not answer the set-up of the connection opened for
	// that caller.
	p.holdNextSetUp()
	busy, cancelBusy := context.WithCancel(context.Background())
	defer cancelBusy()
	busyDone := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(busy, "SELECT pg_sleep(60)")
		busyDone <- err
	}()
	waitUntil(t, "a call holds the connection", func() bool { return db.Stats().InUse == 1 })
	waiterDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "SELECT 1")
		waiterDone <- err
	}()
	waitUntil(t, "a caller waits for the pool", func() bool { return db.Stats().WaitCount == 1 })
	cancelBusy()
	t.Logf("call cut off: %v", <-busyDone)
	t.Logf("caller that waited: %v", <-waiterDone)
	if n := p.held(); n != 1 {
		t.Fatalf("%d set-ups held, want 1", n)
	}

	// From now on the server answers every new connection.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil {
		t.Fatalf("a call with the server answering failed after %v: %v (pool %+v)",
			time.Since(start).Round(time.Millisecond), err, db.Stats())
	}
	waitUntil(t, "the client closes the connection whose set-up was held", p.heldClosed)
}

// setUpHolder is a proxy in front of the test database that, once told
// to, holds the session set-up of the next connection to send one: it
// forwards nothing more the client sends on that connection, and keeps
// it open, as a server or session-mode pooler that completed the startup
// and then never answers would. Every other connection passes.
type setUpHolder struct {
	url    string
	armed  atomic.Bool
	count  atomic.Int32
	closed atomic.Bool // the client closed the held connection

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startSetUpHolder(t *testing.T) *setUpHolder {
	t.Helper()
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	h := &setUpHolder{url: u.String()}
	t.Cleanup(func() {
		_ = ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			_ = c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	h.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			h.mu.Lock()
			h.conns = append(h.conns, client, server)
			h.mu.Unlock()
			h.wg.Go(func() { _, _ = io.Copy(client, server) })
			h.wg.Go(func() { h.forward(client, server) })
		}
	})
	return h
}

// forward copies what client sends to server until client closes, unless
// it holds the set-up; then it closes both.
func (h *setUpHolder) forward(client, server net.Conn) {
	defer server.Close()
	defer client.Close()
	buf := make([]byte, 64<<10)
	holding := false
	for {
		n, err := client.Read(buf)
		if n > 0 && !holding && bytes.Contains(buf[:n], []byte("set_config")) && h.armed.CompareAndSwap(true, false) {
			holding = true
			h.count.Add(1)
		}
		if n > 0 && !holding {
			if _, err := server.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if holding {
				h.closed.Store(true)
			}
			return
		}
	}
}

// holdNextSetUp has h hold the next set-up.
func (h *setUpHolder) holdNextSetUp() { h.armed.Store(true) }

// held is how many set-ups h has held.
func (h *setUpHolder) held() int { return int(h.count.Load()) }

// heldClosed reports whether the client closed the connection whose
// set-up h held.
func (h *setUpHolder) heldClosed() bool { return h.closed.Load() }
