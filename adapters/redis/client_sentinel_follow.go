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
// closes its connections to any server that may not be the master, dials
// the master instead of a server that says it replicates the master, and
// refuses a dial of one it cannot tell (go-redis drops a closed
// connection before it uses it; over TLS, where it cannot check a
// connection, a command that meets one fails). None reaches the old master
// once a poll has seen it replaced.

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
		case <-f.conns.nudge: // a dial the last answer could not route
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
// go-redis, in the form the poll's answer has. It learns the sentinels'
// answers (learn) and routes each dial by them (route). A server the
// answer names a replica, or some sentinel named master at any
// configuration, other than the master, may be a master newer than the
// answer: go-redis's sentinel may have heard of a failover first, to a
// replica or back to an old master (a failback), or may be behind. No
// sentinel's word tells which (go-redis may use a sentinel the URL does
// not name, found through SENTINEL SENTINELS), so the server is asked
// (replicaOf): if it says it replicates the master, go-redis's sentinel is
// behind, and the dial goes to the master instead; else the polls ask
// again at once, and the dial goes on if they name it master, and fails
// otherwise. learn closes the connections to every server a dial would not
// reach as itself. No sentinel is ever named master or replica, so theirs
// are left alone.
type masterConns struct {
	mu           sync.Mutex
	conns        map[*dialedConn]struct{}
	epochs       epochFloor          // the configuration taken
	asked        uint64              // questions begun (ask), numbering them
	learned      uint64              // the last question learnt from
	master       string              // the answer's learnt; "" before the first
	replicas     map[string]struct{} // the answer's learnt
	masterEpochs map[string]int64    // the newest configuration at which a sentinel named each server master
	nudge        chan struct{}       // a value: the polls are to ask now
	learnt       chan struct{}       // closed and replaced whenever an answer is learnt
	closed       chan struct{}       // closed when the client closes: nothing more is learnt
	closeOnce    sync.Once
	// replicaOf asks the server at addr whose replica it is (ROLE): the
	// address of its master, or "" if it says it is none. Nil: nobody is
	// asked.
	replicaOf func(ctx context.Context, addr string) (string, error)
}

// routeWait bounds how long a dial of a server the last answer cannot
// route waits for the polls to ask again.
const routeWait = 2 * sentinelAnswer

// sentinelView is the sentinels' answer to one question: the master and
// replicas of the newest configuration, its epoch, every master an answer
// named with its epoch, and whether every sentinel answered.
type sentinelView struct {
	master   string
	replicas []string
	epoch    int64
	named    map[string]int64
	everyOne bool
}

func newMasterConns() *masterConns {
	return &masterConns{
		conns: make(map[*dialedConn]struct{}), masterEpochs: make(map[string]int64),
		nudge: make(chan struct{}, 1), learnt: make(chan struct{}), closed: make(chan struct{}),
	}
}

// ask numbers a question to the sentinels, begun now.
func (m *masterConns) ask() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	return m.asked
}

// close ends the dials waiting for an answer (routeAsking): the client
// is closing, and nothing more will be learnt.
func (m *masterConns) close() {
	m.closeOnce.Do(func() { close(m.closed) })
}

// route reports whether a dial of addr may go to addr as the last answer
// stands: false for a server other than the master that the answer names
// a replica or some sentinel named master, which may or may not have
// become the master since. The caller holds m.mu.
func (m *masterConns) route(addr string) bool {
	if m.master == "" || addr == m.master {
		return true
	}
	_, named := m.masterEpochs[addr]
	_, replica := m.replicas[addr]
	return !named && !replica
}

// reachable reports whether a dial of addr reaches addr itself. The caller
// holds m.mu.
func (m *masterConns) reachable(addr string) bool {
	return m.route(addr)
}

// dialer is dial, counting in each connection it makes, marked with the
// address it dials, routed as route says (go-redis dials the master its
// own sentinel names, which may be behind the others, or ahead of the
// last answer). A dial route cannot place has the polls ask the sentinels
// at once and waits for their answer, within routeWait; a dial whose
// server a poll finds replaced while it dials fails.
func (m *masterConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := m.routeAsking(ctx, addr)
		if !ok {
			return nil, fmt.Errorf("redis sentinels have not vouched for %s as the master", addr)
		}
		conn, err := dial(ctx, network, to)
		if err != nil {
			return nil, err
		}
		c := &dialedConn{Conn: conn, addr: to, set: m}
		m.mu.Lock()
		reached := m.reachable(to)
		if reached {
			m.conns[c] = struct{}{}
		}
		m.mu.Unlock()
		if !reached {
			_ = conn.Close()
			return nil, fmt.Errorf("redis sentinels named another master than %s while it was dialled", to)
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

// routeAsking returns where a dial of addr goes: addr itself, if route
// says so; the master, if addr says it replicates it; or addr once the
// polls, asked at once, name it master. It fails (false) once ctx ends,
// the client closes or routeWait has passed.
func (m *masterConns) routeAsking(ctx context.Context, addr string) (string, bool) {
	m.mu.Lock()
	ok := m.route(addr)
	learnt := m.learnt
	m.mu.Unlock()
	if ok {
		return addr, true
	}
	wait := time.NewTimer(routeWait)
	defer wait.Stop()
	if master, ok := m.replicating(ctx, addr); ok {
		return master, true
	}
	for {
		select {
		case m.nudge <- struct{}{}:
		default: // a poll is already due
		}
		select {
		case <-learnt:
		case <-ctx.Done():
			return "", false
		case <-m.closed:
			return "", false
		case <-wait.C:
			return "", false
		}
		m.mu.Lock()
		ok = m.route(addr)
		learnt = m.learnt
		m.mu.Unlock()
		if ok {
			return addr, true
		}
	}
}

// replicating reports whether the server at addr says it replicates the
// master of the last answer, and returns that master: a server that is a
// replica takes no write, whatever go-redis's sentinel says of it, and
// the one it replicates is the master the sentinels that reconfigured it
// named. It waits at most routeWait for the server's answer.
func (m *masterConns) replicating(ctx context.Context, addr string) (string, bool) {
	if m.replicaOf == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, routeWait)
	defer cancel()
	go func() { // the client closing ends the question
		select {
		case <-m.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	of, err := m.replicaOf(ctx, addr)
	if err != nil || of == "" {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.master, of == m.master
}

// learn takes the sentinels' answer v to the question numbered question,
// given at now. It reports whether the answer is taken (see epochFloor),
// and the newest epoch taken before. A taken answer is learnt, and the
// connections to every server a dial would not reach as itself closed,
// unless one to a later question, of the same configuration, was learnt
// first: a newer configuration is learnt whichever question came first, so
// that the epoch taken and the master learnt never part. Going back to an
// older configuration (sentinels that lost theirs) forgets the epochs of
// the masters named before, which no longer compare.
func (m *masterConns) learn(question uint64, v sentinelView, now time.Time) (newest int64, ok bool) {
	m.mu.Lock()
	newest, ok = m.epochs.admit(v.epoch, v.everyOne, now)
	if !ok {
		m.mu.Unlock()
		return newest, false
	}
	if v.epoch < newest {
		clear(m.masterEpochs)
	}
	for addr, e := range v.named {
		if known, seen := m.masterEpochs[addr]; !seen || e > known {
			m.masterEpochs[addr] = e
		}
	}
	close(m.learnt)
	m.learnt = make(chan struct{})
	if v.epoch == newest && question < m.learned {
		m.mu.Unlock()
		return newest, true
	}
	m.learned = max(m.learned, question)
	m.master = v.master
	m.replicas = make(map[string]struct{}, len(v.replicas))
	for _, r := range v.replicas {
		m.replicas[r] = struct{}{}
	}
	var stale []*dialedConn
	for c := range m.conns {
		if !m.reachable(c.addr) {
			stale = append(stale, c)
		}
	}
	m.mu.Unlock()
	for _, c := range stale {
		_ = c.Close()
	}
	return newest, true
}

// dialledAt is the address the dialer of a masterConns dialled conn at,
// which is not the one it was asked for when it dialled the master
// instead of an old master; "" for a connection it did not make.
func dialledAt(conn net.Conn) string {
	switch c := conn.(type) {
	case *dialedConn:
		return c.addr
	case *dialedSocket:
		return c.addr
	}
	return ""
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
	f.conns.close()
	<-f.polled
	f.watch.close()
	return f.Client.Close()
}
