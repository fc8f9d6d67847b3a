package redis

import (
	"context"
	"fmt"
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
// sentinels demote it, some ten seconds later, and loses them then; a
// sentinel cut off from the others goes on naming the old master, and
// go-redis dials it again; and while its sentinel stays silent rather than
// closing the connection, go-redis cannot dial at all until it gives up on
// it, seconds later. So the client asks the URL's sentinels itself every
// sentinelPoll which server is the master and which are its replicas (the
// newest configuration of those that answer) and, through masterConns,
// closes its connections to any server they named master before or name a
// replica now, and dials the master they name whenever go-redis dials such
// a server: go-redis drops a closed connection before it uses it; over
// TLS, where it cannot check a connection, a command that meets one fails.
// None reaches the old master once a poll has seen it replaced.

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
		addr, err := f.watch.master(ctx) // conns learn what it says
		cancel()
		if f.ctx.Err() != nil {
			return
		}
		f.tellCaches(addr, err)
	}
}

// masterConns are the connections the client's dialer made (go-redis's
// pools and its sentinels' alike), with the address each was dialled at:
// for a connection to a master, its address as a sentinel gave it to
// go-redis, in the form the poll's answer has. A server the polls have
// named master before, and no longer do, or the last poll's sentinel names
// a replica, is replaced: learn closes the connections to such servers,
// and the dialer dials the master instead. No sentinel is ever
// named master or replica, so theirs are left alone.
type masterConns struct {
	mu       sync.Mutex
	conns    map[*dialedConn]struct{}
	epochs   epochFloor          // the configuration learnt
	learned  uint64              // the last question learnt from
	master   string              // the answer's learnt; "" before the first
	masters  map[string]struct{} // every master the answers learnt have named
	replicas map[string]struct{} // the answer's learnt
}

func newMasterConns() *masterConns {
	return &masterConns{conns: make(map[*dialedConn]struct{}), masters: make(map[string]struct{})}
}

// replaced reports whether the polls know addr is no longer the master.
// The caller holds m.mu.
func (m *masterConns) replaced(addr string) bool {
	if addr == m.master {
		return false
	}
	_, wasMaster := m.masters[addr]
	_, replica := m.replicas[addr]
	return wasMaster || replica
}

// dialer is dial, counting in each connection it makes, marked with the
// address it dials. Asked for a server the polls know was replaced (go-redis
// heard of no failover, or its sentinel is cut off from the others), it
// dials the master they named instead; it fails if a poll names another
// master while it dials.
func (m *masterConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		m.mu.Lock()
		if m.replaced(addr) {
			addr = m.master
		}
		m.mu.Unlock()
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &dialedConn{Conn: conn, addr: addr, set: m}
		m.mu.Lock()
		replaced := m.replaced(addr)
		if !replaced {
			m.conns[c] = struct{}{}
		}
		m.mu.Unlock()
		if replaced {
			_ = conn.Close()
			return nil, fmt.Errorf("redis sentinels named another master than %s while it was dialled", addr)
		}
		if _, ok := conn.(syscall.Conn); ok {
			// go-redis checks an idle connection's socket before reusing
			// it, and drops one closed (by the server, or by learn),
			// only if it can reach the socket.
			return &dialedSocket{c}, nil
		}
		return c, nil
	}
}

// learn takes the sentinels' answer to the question numbered question, of
// configuration epoch (the newest of every sentinel's, if everyOne
// answered), given at now: master is the master and replicas its replicas.
// It reports whether the answer is taken (see epochFloor), and the newest
// epoch taken before. A taken answer is learnt, and the connections to
// every server it replaced closed, unless one to a later question, of the
// same configuration, was learnt first: a newer configuration is learnt
// whichever question came first, so that the epoch taken and the master
// learnt never part.
func (m *masterConns) learn(question uint64, epoch int64, everyOne bool, now time.Time, master string, replicas []string) (newest int64, ok bool) {
	m.mu.Lock()
	newest, ok = m.epochs.admit(epoch, everyOne, now)
	if !ok || epoch == newest && question < m.learned {
		m.mu.Unlock()
		return newest, ok
	}
	m.learned = max(m.learned, question)
	m.master = master
	m.masters[master] = struct{}{}
	m.replicas = make(map[string]struct{}, len(replicas))
	for _, r := range replicas {
		m.replicas[r] = struct{}{}
	}
	var stale []*dialedConn
	for c := range m.conns {
		if m.replaced(c.addr) {
			stale = append(stale, c)
		}
	}
	m.mu.Unlock()
	for _, c := range stale {
		_ = c.Close()
	}
	return newest, true
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

// dialledAt is the address the dialer of a masterConns dialled conn at,
// which is not the one it was asked for when it dialled the master
// instead of a server replaced; "" for a connection it did not make.
func dialledAt(conn net.Conn) string {
	switch c := conn.(type) {
	case *dialedConn:
		return c.addr
	case *dialedSocket:
		return c.addr
	}
	return ""
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
