package postgres

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// onceServer accepts a single connection and then stops listening, so
// that lib/pq's second dial of the handshake is refused. With tls it
// answers an SSLRequest with no (sslmode=prefer's redial); otherwise it
// answers the startup message with an error (sslmode=allow's redial with
// TLS). It then reads until the client closes the connection.
type onceServer struct {
	addr   *net.TCPAddr
	mu     sync.Mutex
	conn   net.Conn
	served bool
	closed bool
}

func startOnceServer(t *testing.T, refuseTLS bool) *onceServer {
	return startOnceServerSilent(t, refuseTLS, false)
}

func startOnceServerSilent(t *testing.T, refuseTLS, silent bool) *onceServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &onceServer{addr: l.Addr().(*net.TCPAddr)}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = l.Close()
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.Close()
		}
		s.mu.Unlock()
		<-done
	})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		_ = l.Close() // the next dial is refused
		if err != nil {
			return
		}
		defer conn.Close()
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
		head := make([]byte, 8)
		if _, err := io.ReadFull(conn, head); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[:4])
		if silent {
			// a server too slow to answer within the handshake's context
		} else if refuseTLS {
			if binary.BigEndian.Uint32(head[4:]) != 80877103 {
				return
			}
			if _, err := conn.Write([]byte("N")); err != nil {
				return
			}
		} else {
			if _, err := io.CopyN(io.Discard, conn, int64(n)-8); err != nil {
				return
			}
			msg := append([]byte("SFATAL\x00C28000\x00Mno encryption\x00"), 0)
			reply := []byte{'E', 0, 0, 0, 0}
			binary.BigEndian.PutUint32(reply[1:], uint32(4+len(msg)))
			if _, err := conn.Write(append(reply, msg...)); err != nil {
				return
			}
		}
		s.mu.Lock()
		s.served = true
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, conn) // until the client closes it
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	}()
	return s
}

func (s *onceServer) state() (served, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.closed
}

// A handshake whose redial fails: lib/pq gave up on the first connection
// (sslmode=prefer against a server without TLS; sslmode=allow after the
// server refused the plain startup) and dialled again, and that dial was
// refused. Connect fails; the connection lib/pq left must not stay open
// and watched with the handshake's context.
func TestConnectThatFailsLeavesNoConnectionLibPQGaveUpOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode      pq.SSLMode
		refuseTLS bool
	}{{pq.SSLModePrefer, true}, {pq.SSLModeAllow, false}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			srv := startOnceServer(t, tc.refuseTLS)
			cfg, err := pq.NewConfig("postgres://u@127.0.0.1/db")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Port = uint16(srv.addr.Port)
			cfg.SSLMode = tc.mode
			cfg.ConnectTimeout = defaultConnectTimeout // as Open sets it
			pc, err := pq.NewConnectorConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			pc.Dialer(newDialer())
			c := newConnector(pc, &cfg, time.Minute, clientCheckInterval)
			ctx := newWatchCountingContext() // as database/sql's, which lives as long as the pool
			dc, err := c.Connect(ctx)
			if err == nil {
				_ = dc.Close()
				t.Fatal("connected to a server that refused the second dial")
			}
			t.Logf("Connect: %v", err)
			deadline := time.Now().Add(2 * time.Second)
			for {
				served, closed := srv.state()
				if served && closed && ctx.live.Load() == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("2 s after Connect failed: the connection lib/pq gave up on served %v, closed by the client %v; %d watches with the handshake's context still live",
						served, closed, ctx.live.Load())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// The likelier way to it: the server is slow to answer the SSLRequest and
// the handshake's context (a request's deadline) ends. The watch
// interrupts the read; with sslmode=prefer lib/pq takes that for a
// refusal of TLS and dials again, with the ended context, which fails at
// once. The interrupted connection is never closed (only, some day, by
// the garbage collector).
func TestConnectWhoseContextEndsDuringTLSLeavesNoConnectionOpen(t *testing.T) {
	t.Parallel()
	srv := startOnceServerSilent(t, true, true)
	cfg, err := pq.NewConfig("postgres://u@127.0.0.1/db")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = uint16(srv.addr.Port)
	cfg.SSLMode = pq.SSLModePrefer
	cfg.ConnectTimeout = defaultConnectTimeout // as Open sets it
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(newDialer())
	c := newConnector(pc, &cfg, time.Minute, clientCheckInterval)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	dc, err := c.Connect(ctx)
	if err == nil {
		_ = dc.Close()
		t.Fatal("connected to a server that never answered")
	}
	t.Logf("Connect: %v", err)
	deadline := time.Now().Add(2 * time.Second)
	for {
		served, closed := srv.state()
		if served && closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after Connect failed: the interrupted connection served %v, closed by the client %v", served, closed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
