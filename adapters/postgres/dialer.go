package postgres

import (
	"context"
	"fmt"
	"net"
	"time"
)

// dialer opens lib/pq's connections with TCP keepalives, so that a server
// whose host vanished is noticed within about half a minute, and wraps
// them in watchedConn. It implements pq.Dialer and pq.DialerContext.
type dialer struct {
	net net.Dialer
}

func newDialer() dialer {
	return dialer{net: net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}}
}

// connSlot carries the context of connector.Connect to the dialer, which
// watches each new connection with it for the whole of Connect (lib/pq's
// own dial context ends as soon as the TCP connection is made, and its
// connect_timeout deadline once the startup is done), and carries the
// connection back. Each attempt, from its dial to the end of Connect or the
// next dial, is also bounded by the connect timeout: the startup, lib/pq's
// target_session_attrs check and the session's set-up included, as
// PostgreSQL's connect_timeout bounds each host's attempt.
type connSlot struct {
	ctx     context.Context
	timeout time.Duration // the connect timeout; 0 for none
	conn    *watchedConn  // the last attempt's connection, if it was made

	attempt context.Context // what watches conn: ctx within the timeout
	cancel  context.CancelFunc
}

type connSlotKey struct{}

// begin starts an attempt, ending the last one: lib/pq dials again within
// a handshake only once it has given up on the last connection (for the
// next host of a list, or for the same host with or without TLS), and may
// leave that one open.
func (s *connSlot) begin() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
	s.end()
	if s.timeout > 0 {
		s.attempt, s.cancel = context.WithTimeoutCause(s.ctx, s.timeout, connectTimeoutError(s.timeout))
	} else {
		s.attempt, s.cancel = s.ctx, func() {}
	}
}

// end stops the timer of the last attempt, once its connection is no
// longer watched with it.
func (s *connSlot) end() {
	if s.cancel != nil {
		s.cancel()
	}
}

// connectTimeoutError is the cause of the end of a connection attempt that
// outlasted the connect timeout.
type connectTimeoutError time.Duration

func (e connectTimeoutError) Error() string {
	return fmt.Sprintf("connect timeout (%v) exceeded", time.Duration(e))
}

func (e connectTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// DialContext connects. Within connector.Connect the connection is watched
// as connSlot says; otherwise (lib/pq's cancel requests) it is bounded by
// connect_timeout, which lib/pq sets as its deadline.
func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	slot, _ := ctx.Value(connSlotKey{}).(*connSlot)
	if slot != nil {
		slot.begin()
	}
	c, err := d.net.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	w := &watchedConn{Conn: c}
	if slot != nil {
		w.watch(slot.attempt)
		slot.conn = w
	}
	return w, nil
}

// Dial is DialContext without a context.
func (d dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTimeout is DialContext with a timeout.
func (d dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}
