package redis

import (
	"context"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// LinkID is the CLIENT ID of the invalidation link's connection, for tests
// that kill it.
func (c *ClientCache) LinkID() int64 { return c.linkID.Load() }

// AwaitLinked waits until the invalidation link is up, or ctx ends.
func (c *ClientCache) AwaitLinked(ctx context.Context) error {
	return c.await(ctx, func() bool { linked, _ := c.linkChanged(); return linked })
}

// AwaitFlushes waits until the cache has dropped everything more than n
// times, or ctx ends.
func (c *ClientCache) AwaitFlushes(ctx context.Context, n uint64) error {
	return c.await(ctx, func() bool { return c.flushes.Load() > n })
}

// await waits until done reports true, checking whenever the link goes up
// or down (every flush the link's state causes comes with such a change).
func (c *ClientCache) await(ctx context.Context, done func() bool) error {
	for {
		_, changed := c.linkChanged()
		if done() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("client cache: %w (stats %+v)", ctx.Err(), c.Stats())
		}
	}
}

// AwaitCaughtUp waits until the link has applied every change Redis made
// before the call (the invalidations of the caller's own writes among
// them): until it has answered a ping that went out after the call, or ctx
// ends. A test that counts what the cache keeps calls it after its writes:
// the invalidation of a write may otherwise arrive after a read has kept
// the key again, and drop it.
func (c *ClientCache) AwaitCaughtUp(ctx context.Context) error {
	since := c.sinceBorn()
	for c.upTo.Load() <= since {
		select {
		case <-time.After(time.Millisecond): // polling: pings carry no event to wait on
		case <-ctx.Done():
			return fmt.Errorf("client cache: link not caught up: %w (stats %+v)", ctx.Err(), c.Stats())
		}
	}
	return nil
}

// to is how many counted connections were dialled at addr.
func (m *masterConns) to(addr string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for c := range m.conns {
		if c.addr == addr {
			n++
		}
	}
	return n
}

// SentinelMaster asks the sentinels of a redis+sentinel:// URL which server
// is the master, as the polls of a Sentinel client do.
func SentinelMaster(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	opts, err := parseSentinelURL(u)
	if err != nil {
		return "", err
	}
	w := newSentinelWatch(opts, &goredis.Options{}, setDialer(opts))
	defer w.close()
	return w.master(ctx)
}
