package redis

import (
	"context"
	"net"
)

// dialMaster is the link's dialer on Sentinel: it opens the link on the
// master the sentinels report now, and records the server the dialer
// reached, which is another should a poll have named a newer master
// meanwhile (see masterConns): then the link does not come up.
func (c *ClientCache) dialMaster(ctx context.Context, network, _ string) (net.Conn, error) {
	qctx, cancel := context.WithTimeout(ctx, linkQuestion)
	addr, err := c.sentinel.master(qctx)
	cancel()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.master, c.linkAddr = addr, ""
	c.mu.Unlock()
	conn, err := c.sentinel.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.linkAddr = dialledAt(conn)
	c.mu.Unlock()
	return conn, nil
}

// linkQuestion bounds the question the link's dial asks the sentinels.
// The dial, made only as the link opens, waits longer than a poll for a
// sentinel on a slow path, which may know of a failover the others have
// not heard of; but a sentinel that never answers must not use up the
// dial's own time, or the link never opens.
const linkQuestion = 4 * sentinelAnswer

// follow takes what the sentinels said at a poll of the client the cache
// was made from: the master's address, or why none was vouched for. When
// they name another server than the one the link is on, a failover under
// way, or when none answered, it closes the link: everything cached is
// dropped, and the link opens again on the master they report.
func (c *ClientCache) follow(addr string, err error) {
	c.mu.Lock()
	c.master = addr
	sub := c.sub
	stale := sub != nil && c.linkAddr != addr
	c.mu.Unlock()
	if !stale {
		return
	}
	if err != nil {
		c.logger.Warn("redis sentinels did not vouch for the master: client cache dropped until they do", "error", err)
	} else {
		c.logger.Warn("redis sentinels report a new master: client cache dropped, its invalidation link follows", "master", addr)
	}
	_ = sub.Close() // run sees the link break
}
