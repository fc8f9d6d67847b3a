package redis

import (
	"context"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis's failover client moves its pooled connections to a new master
// on the +switch-master message of the one sentinel it subscribes to, or
// when it dials: its dialer asks that sentinel for the master and, finding
// another than before, closes the connections to any other server. A
// missed message (the sentinel's connection was down during the failover)
// leaves the pool on the old master, which takes writes until the
// sentinels demote it, some ten seconds later, and loses them then; and
// while that sentinel stays silent rather than closing the connection,
// go-redis cannot dial at all until it gives up on it, seconds later. So
// the client asks the URL's sentinels itself every sentinelPoll and, when
// they agree on a master, closes its connections to any other server
// (masterConns): a command that meets a closed connection is retried on
// another, or fails, but never reaches the old master.

// poll asks the sentinels which server is the master every sentinelPoll
// until the client closes, tells the client caches following it what they
// said, and closes the pool's connections to any other server.
func (f *failoverClient) poll() {
	defer close(f.polled)
	tick := time.NewTicker(sentinelPoll)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(f.ctx, sentinelAnswer)
		addr, err := f.watch.master(ctx)
		cancel()
		if f.ctx.Err() != nil {
			return
		}
		f.tellCaches(addr, err)
		if err == nil {
			f.conns.closeAllBut(addr)
		}
	}
}

// masterConns are the connections of go-redis's pool to the master, with
// the address each was dialled at, which is the master's address as a
// sentinel gave it to go-redis, in the form the poll's answer has. Its
// Dialer marks each connection with its address; its DialHook, which
// go-redis runs for the pool's connections only (not for its sentinels'),
// counts the connection in.
type masterConns struct {
	mu    sync.Mutex
	conns map[*dialedConn]struct{}
}

func newMasterConns() *masterConns {
	return &masterConns{conns: make(map[*dialedConn]struct{})}
}

// dialer is dial, marking each connection with the address it dials.
func (m *masterConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &dialedConn{Conn: conn, addr: addr, set: m}, nil
	}
}

// DialHook counts in the pool's connections (goredis.Hook).
func (m *masterConns) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if c, ok := conn.(*dialedConn); ok && err == nil {
			m.mu.Lock()
			m.conns[c] = struct{}{}
			m.mu.Unlock()
		}
		return conn, err
	}
}

func (m *masterConns) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (m *masterConns) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// closeAllBut closes the pool's connections to any server but master.
func (m *masterConns) closeAllBut(master string) {
	m.mu.Lock()
	var stale []*dialedConn
	for c := range m.conns {
		if c.addr != master {
			stale = append(stale, c)
		}
	}
	m.mu.Unlock()
	for _, c := range stale {
		_ = c.Close()
	}
}

// dialedConn is a connection with the address it was dialled at.
type dialedConn struct {
	net.Conn
	addr string
	set  *masterConns
}

// Close closes the connection and counts it out.
func (c *dialedConn) Close() error {
	c.set.mu.Lock()
	delete(c.set.conns, c)
	c.set.mu.Unlock()
	return c.Conn.Close()
}

// tellCaches hands what the sentinels said to every client cache
// following the master through this client.
func (f *failoverClient) tellCaches(addr string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.caches {
		c.follow(addr, err)
	}
}

// addCache makes c follow the master through this client's polls.
func (f *failoverClient) addCache(c *ClientCache) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caches[c] = struct{}{}
}

// removeCache stops telling c; once it returns, c is not being told.
func (f *failoverClient) removeCache(c *ClientCache) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.caches, c)
}

// Close stops the polls, then closes the clients that ask the sentinels
// and the failover client itself.
func (f *failoverClient) Close() error {
	f.cancel()
	<-f.polled
	f.watch.close()
	return f.Client.Close()
}
