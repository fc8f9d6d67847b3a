package redis

import (
	"context"
	"net"
	"sync"
	"syscall"
	"time"
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
// they name a master (the newest configuration of those that answer),
// closes its connections to any server they named master before
// (masterConns): go-redis drops such a connection before it uses it and
// dials the master its sentinel names; over TLS, where it cannot check a
// connection, a command that meets one fails. None reaches the old master.

// poll asks the sentinels which server is the master every sentinelPoll
// until the client closes, tells the client caches following it what they
// said, and closes the connections to a master they no longer name.
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

// masterConns are the connections the client's dialer made (go-redis's
// pools and its sentinels' alike), with the address each was dialled at:
// for a connection to a master, its address as a sentinel gave it to
// go-redis, in the form the poll's answer has. closeAllBut closes those
// dialled at a server the sentinels named master before and no longer do;
// no sentinel is ever named master, so theirs stay open.
type masterConns struct {
	mu      sync.Mutex
	conns   map[*dialedConn]struct{}
	masters map[string]struct{} // every master the polls have named
}

func newMasterConns() *masterConns {
	return &masterConns{conns: make(map[*dialedConn]struct{}), masters: make(map[string]struct{})}
}

// dialer is dial, counting in each connection it makes, marked with the
// address it dials.
func (m *masterConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &dialedConn{Conn: conn, addr: addr, set: m}
		m.mu.Lock()
		m.conns[c] = struct{}{}
		m.mu.Unlock()
		if _, ok := conn.(syscall.Conn); ok {
			// go-redis checks an idle connection's socket before reusing
			// it, and drops one closed (by the server, or by closeAllBut),
			// only if it can reach the socket.
			return &dialedSocket{c}, nil
		}
		return c, nil
	}
}

// closeAllBut records master as the master and closes the connections to
// any server named master before.
func (m *masterConns) closeAllBut(master string) {
	m.mu.Lock()
	m.masters[master] = struct{}{}
	var stale []*dialedConn
	for c := range m.conns {
		if _, wasMaster := m.masters[c.addr]; wasMaster && c.addr != master {
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

// dialedSocket is a dialedConn over a socket that go-redis can check.
type dialedSocket struct{ *dialedConn }

func (c *dialedSocket) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
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
