package postgres

import (
	"context"
	"net"
	"sync"
	"time"
)

// longAgo is a deadline already past: setting it makes blocked reads and
// writes return at once.
var longAgo = time.Unix(1, 0)

// watchedConn is a network connection to PostgreSQL whose reads and writes
// fail once the context of the driver call using it ends. lib/pq answers a
// cancelled context only by asking the server, over a new connection, to
// cancel the statement; a server or network that has stopped answering
// never does, and lib/pq would wait for the reply forever.
//
// Once interrupted, the connection is in an unknown state of the protocol
// and is never used again: the driver connection reports itself invalid
// and database/sql closes it.
type watchedConn struct {
	net.Conn

	mu          sync.Mutex
	gen         uint64      // counts watch and release calls
	stop        func() bool // stops the current watch; nil if none
	interrupted bool
}

// watch makes I/O on c fail once ctx ends, until the next watch or
// release. A context that is already done interrupts c at once.
func (c *watchedConn) watch(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unwatchLocked()
	if ctx.Done() == nil {
		return
	}
	gen := c.gen
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		// An older watch's callback may run after a newer watch began.
		if c.gen == gen && !c.interrupted {
			c.interrupted = true
			_ = c.Conn.SetDeadline(longAgo)
		}
	})
}

// release stops watching c and reports whether it is still usable: false
// once a watch has interrupted it.
func (c *watchedConn) release() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unwatchLocked()
	return !c.interrupted
}

// Close stops watching c and closes it: a watch keeps c for as long as
// its context lives, which may be far longer.
func (c *watchedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

func (c *watchedConn) unwatchLocked() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	c.gen++
}

// SetDeadline, SetReadDeadline and SetWriteDeadline pass lib/pq's own
// deadlines (connect_timeout) through, except on an interrupted
// connection, whose deadline stays in the past.
func (c *watchedConn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, c.Conn.SetDeadline)
}

func (c *watchedConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, c.Conn.SetReadDeadline)
}

func (c *watchedConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, c.Conn.SetWriteDeadline)
}

func (c *watchedConn) setDeadline(t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupted {
		return nil
	}
	return set(t)
}
