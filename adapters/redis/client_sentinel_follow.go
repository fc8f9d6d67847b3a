package redis

import (
	"context"
	"net"
	"sync"
	"time"
)

// go-redis's failover client moves its pooled connections to a new master
// on the +switch-master message of the one sentinel it subscribes to, or
// when it dials: its dialer asks that sentinel for the master and, finding
// another than before, closes the connections to any other server. A
// missed message (the sentinel's connection was down during the failover)
// leaves the pool on the old master, which takes writes until the
// sentinels demote it, some ten seconds later, and loses them then. So the
// client asks the sentinels itself every sentinelPoll and, when they name
// another master than the pool's, has go-redis dial once.

// poll asks the sentinels which server is the master every sentinelPoll
// until the client closes, tells the client caches following it what they
// said, and moves the pool to the master they name.
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
		if f.ctx.Err() != nil {
			cancel()
			return
		}
		f.tellCaches(addr, err)
		if err == nil && addr != f.poolMaster {
			f.movePool(ctx, addr)
		}
		cancel()
	}
}

// movePool has go-redis dial the master once, so that its dialer finds
// the master changed and closes the pooled connections to any other
// server, and records addr as the pool's master once the sentinel go-redis
// asked named it too (else the next poll tries again). The connection
// dialed is closed unused.
func (f *failoverClient) movePool(ctx context.Context, addr string) {
	var dialed dialedAddr
	conn, err := f.Options().Dialer(context.WithValue(ctx, dialedKey{}, &dialed), "tcp", "")
	if err == nil {
		_ = conn.Close()
	}
	// Recorded before dialing: a master that did not accept the
	// connection has still had the pool moved to it.
	if dialed.get() == addr {
		f.poolMaster = addr
	}
}

// dialedKey is the context key under which movePool asks the client's
// dialer (see recordingDialer) to record the address go-redis dials.
type dialedKey struct{}

// dialedAddr is the address last dialed with a context holding it. The
// sentinels go-redis asks may be dialed with the same context, from
// goroutines of their own, before the master is.
type dialedAddr struct {
	mu   sync.Mutex
	addr string
}

func (d *dialedAddr) set(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addr = addr
}

func (d *dialedAddr) get() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// recordingDialer is dial, which also records the address it dials in the
// dialedAddr of a context from movePool.
func recordingDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d, ok := ctx.Value(dialedKey{}).(*dialedAddr); ok {
			d.set(addr)
		}
		return dial(ctx, network, addr)
	}
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
