package httpapi

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// limitedPair is a limitListener of two slots that has accepted two
// connections, and their client ends.
type limitedPair struct {
	l       *limitListener
	clients []net.Conn
	servers []net.Conn
}

func newLimitedPair(t *testing.T) *limitedPair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &limitedPair{l: newLimitListener(ln, 2, slog.New(slog.DiscardHandler))}
	t.Cleanup(func() { p.l.Close() })
	for range 2 {
		p.dial(t)
		c, err := p.l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p.servers = append(p.servers, c)
	}
	return p
}

// dial opens one more client connection.
func (p *limitedPair) dial(t *testing.T) {
	t.Helper()
	c, err := net.Dial("tcp", p.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.clients = append(p.clients, c)
}

// accept runs Accept aside; the channel gives its error once it returns.
func (p *limitedPair) accept(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := p.l.Accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		done <- err
	}()
	return done
}

// closed reports whether the server closed client i's connection within d.
func (p *limitedPair) closed(i int, d time.Duration) bool {
	_ = p.clients[i].SetReadDeadline(time.Now().Add(d))
	_, err := p.clients[i].Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestLimitListenerClosesTheLongestIdleFirst(t *testing.T) {
	tests := []struct {
		name   string
		states func(p *limitedPair)
		closed int // the connection closed to make room
	}{
		{"longest idle", func(p *limitedPair) {
			p.l.connState(p.servers[1], http.StateIdle)
			p.l.connState(p.servers[0], http.StateIdle)
		}, 1},
		{"active again is kept", func(p *limitedPair) {
			p.l.connState(p.servers[0], http.StateIdle)
			p.l.connState(p.servers[1], http.StateIdle)
			p.l.connState(p.servers[0], http.StateActive)
		}, 1},
		{"idle again is idle anew", func(p *limitedPair) {
			p.l.connState(p.servers[0], http.StateIdle)
			p.l.connState(p.servers[1], http.StateIdle)
			p.l.connState(p.servers[0], http.StateActive)
			p.l.connState(p.servers[0], http.StateIdle)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newLimitedPair(t)
			tt.states(p)
			p.dial(t)
			if err := <-p.accept(t); err != nil {
				t.Fatal(err)
			}
			kept := 1 - tt.closed
			if !p.closed(tt.closed, time.Second) {
				t.Errorf("connection %d not closed", tt.closed)
			}
			if p.closed(kept, 100*time.Millisecond) {
				t.Errorf("connection %d closed too", kept)
			}
		})
	}
}

func TestLimitListenerWaitsForRoom(t *testing.T) {
	tests := []struct {
		name    string
		free    func(p *limitedPair)
		wantErr error
	}{
		{"a connection turns idle", func(p *limitedPair) { p.l.connState(p.servers[0], http.StateIdle) }, nil},
		{"a connection closes", func(p *limitedPair) { p.servers[0].Close() }, nil},
		{"the listener closes", func(p *limitedPair) { p.l.Close() }, net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newLimitedPair(t)
			p.l.connState(p.servers[0], http.StateActive)
			p.dial(t)
			accepted := p.accept(t)
			select {
			case err := <-accepted:
				t.Fatalf("Accept = %v beyond the limit, want it to wait", err)
			case <-time.After(100 * time.Millisecond):
			}
			tt.free(p)
			select {
			case err := <-accepted:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Accept = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Accept still waiting")
			}
			if tt.wantErr != nil && !p.closed(2, time.Second) {
				t.Error("the waiting connection was not closed")
			}
		})
	}
}
