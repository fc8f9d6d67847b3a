package postgres

import (
	"context"
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
// watches the new connection with it for the whole handshake (lib/pq's
// own dial context ends as soon as the TCP connection is made), and
// carries the connection back.
type connSlot struct {
	ctx  context.Context
	conn *watchedConn
}

type connSlotKey struct{}

// DialContext connects. Within connector.Connect the connection is watched
// with Connect's context; otherwise (lib/pq's cancel requests) it is
// bounded by connect_timeout, which lib/pq sets as its deadline.
func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.net.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	w := &watchedConn{Conn: c}
	if slot, ok := ctx.Value(connSlotKey{}).(*connSlot); ok {
		if slot.conn != nil {
			// lib/pq dials again within a handshake only once it has given
			// up on the last connection (for the next host of a list, or
			// for the same host without TLS, the server having none), and
			// in the second case leaves that one open.
			_ = slot.conn.Close()
		}
		w.watch(slot.ctx)
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
