package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
)

// Defaults applied by ClientCacheConfig for fields left at zero.
const (
	DefaultClientCacheEntries = 10000
	DefaultClientCacheBytes   = 64 << 20
)

// ClientCacheConfig bounds a ClientCache.
type ClientCacheConfig struct {
	// MaxEntries is the most tokens kept; 0 means
	// DefaultClientCacheEntries.
	MaxEntries int

	// MaxBytes bounds the entries' estimated memory (from each one's JSON
	// length and count of strings, a bound on the heap it takes: entrySize);
	// 0 means DefaultClientCacheBytes.
	MaxBytes int64
}

// ClientCache keeps decoded token data in process memory, so that a
// TokenStore reading a token it read before does not ask Redis again,
// while Redis tells it which entries to drop: server-assisted client-side
// caching (CLIENT TRACKING, Redis 6 or later) in broadcast mode on the
// prefix "token:", its invalidations sent to one connection of the
// cache's own (the invalidation link).
//
// A key any client changes or deletes, including Gafaelfawr revoking a
// token, is dropped once Redis's message arrives (a millisecond or so on
// a local network). While the link is down, from the moment its failure
// is seen until it is back, the cache holds nothing and every read goes to
// Redis. An entry is never served past its token's expiry or its Redis
// entry's TTL, by the store's clock, and the least recently used entries
// are evicted beyond the bounds of ClientCacheConfig.
//
// On Redis Sentinel (a client NewClient made from a redis+sentinel:// URL)
// the link follows the master. It opens on the server that the sentinels
// named in the URL report as master (of those that answer, the one with
// the newest configuration epoch), and follows the answers to the client's
// own polls of them, every quarter second (so close the cache before the
// client). When they report another server or a failover under way, or
// none answers, the link is closed and everything cached is dropped;
// reads go to Redis until the link is open again on the master they
// report. A value is kept only if it was read from the very server the
// link is on, as the run_id of INFO server, asked in the read's round
// trip, tells (INFO must be allowed): a read from an old master, which
// takes writes until the sentinels demote it, is served but not kept; so
// is one from a server that reports the same address of its own, as
// servers in containers do. What the cache can miss is a change made on a
// promoted replica within a quarter second of the failover's start, to a
// token it kept from the old master.
//
// A Redis Cluster is refused: its keys live on several masters, each of
// which would need its own link, following the slots as they move.
//
// One ClientCache serves one TokenStore (see WithClientCache). It is safe
// for concurrent use; Close ends the link.
type ClientCache struct {
	logger   *slog.Logger
	link     *goredis.Client // the invalidation link's own client: RESP2, one connection
	linkID   atomic.Int64    // the link connection's CLIENT ID, for tests
	sentinel *sentinelWatch  // on Sentinel, where the link finds the master; else nil

	// On Sentinel, the client whose polls of the sentinels the link
	// follows the master by (see follow); else nil.
	following *failoverClient

	mu      sync.Mutex
	entries *lru
	pending map[string]*pendingFill // keys being read from Redis to fill
	linked  bool                    // the link is up: fills may be kept
	epoch   uint64                  // bumped whenever everything is dropped
	changed chan struct{}           // closed and replaced when linked changes
	sub     *goredis.PubSub         // the link's subscription while linked

	// On Sentinel: the master's address as the sentinels last reported it
	// ("" if none answered), the address the link last dialed, and the
	// run_id of the link's server, which a read must have gone to for its
	// value to be kept.
	master, linkAddr, linkServer string

	attached atomic.Bool     // taken by a TokenStore
	ctx      context.Context // the link's, cancelled by Close
	cancel   context.CancelFunc
	done     chan struct{} // closed when the link's goroutines have ended

	hits, misses, invalidations, flushes atomic.Uint64

	// upTo is when, in nanoseconds since born by the monotonic clock, the
	// last ping the link answered went out (or the link came up): every
	// change Redis made before then has been applied. Entries are served
	// only while it is within linkFresh.
	upTo atomic.Int64
	born time.Time
}

// ClientCacheStats is a snapshot of a ClientCache's state and counters.
type ClientCacheStats struct {
	Linked        bool   // the invalidation link is up
	Entries       int    // tokens held
	Bytes         int64  // their estimated memory
	Hits          uint64 // reads served from memory
	Misses        uint64 // reads that went to Redis
	Invalidations uint64 // keys Redis, or this process's writes, said changed
	Flushes       uint64 // times everything was dropped: the link broke, or the cache closed
}

// pendingFill counts the reads of one key under way and how often the key
// was invalidated meanwhile: a read that saw an invalidation after it began
// may hold a value older than the one Redis now has, and is not kept.
type pendingFill struct {
	readers       int
	invalidations uint64
}

// fillTicket is what a read from Redis must show to keep its value.
type fillTicket struct {
	key           string
	epoch         uint64
	invalidations uint64
	ok            bool   // the link was up when the read began
	server        string // the link's server's run_id then, on Sentinel
}

// NewClientCache opens the invalidation link to the server client talks to
// and waits, within ctx, until Redis has confirmed it. client must be one
// NewClient made: for one server (any *goredis.Client but go-redis's
// failover client), or for Sentinel, when the link follows the master (see
// ClientCache). A cluster client is refused, as is a failover client made
// otherwise than by NewClient (the cache needs the sentinels' addresses),
// and a server without CLIENT TRACKING. logger gets the link's failures
// and recoveries. Errors never contain a password.
func NewClientCache(ctx context.Context, client goredis.UniversalClient, cfg ClientCacheConfig, logger *slog.Logger) (*ClientCache, error) {
	var base *goredis.Options
	var failover *failoverClient
	switch cl := client.(type) {
	case nil:
		return nil, errors.New("creating redis client cache: client is nil")
	case *failoverClient:
		base, failover = cl.Options(), cl
	case *goredis.Client:
		// go-redis names its failover client's options so.
		if cl.Options().Addr == "FailoverClient" {
			return nil, errors.New("creating redis client cache: a Sentinel client is supported only as NewClient makes it from a redis+sentinel:// URL, which keeps the sentinels' addresses the cache needs to follow the master")
		}
		base = cl.Options()
	case *goredis.ClusterClient:
		return nil, errors.New("creating redis client cache: a Redis Cluster is not supported (its keys live on several masters, each of which would need an invalidation link of its own); turn the client cache off")
	default:
		return nil, fmt.Errorf("creating redis client cache: a %T is not supported, only a single server or Sentinel", client)
	}
	switch {
	case logger == nil:
		return nil, errors.New("creating redis client cache: logger is nil")
	case cfg.MaxEntries < 0 || cfg.MaxBytes < 0:
		return nil, errors.New("creating redis client cache: bounds must not be negative")
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultClientCacheEntries
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultClientCacheBytes
	}
	c := newClientCache(cfg, logger)
	opts := *base
	if failover != nil {
		c.sentinel = failover.watch
		opts.Dialer = c.dialMaster
	}
	c.link = goredis.NewClient(c.linkOptions(&opts))
	sub, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		_ = c.link.Close()
		return nil, fmt.Errorf("creating redis client cache: %w", err)
	}
	go c.run(sub)
	if failover != nil {
		c.following = failover
		failover.addCache(c)
	}
	return c, nil
}

// newClientCache is a cache within cfg's bounds (defaults applied), not
// linked yet and without a link client.
func newClientCache(cfg ClientCacheConfig, logger *slog.Logger) *ClientCache {
	c := &ClientCache{
		logger:  logger,
		entries: newLRU(cfg.MaxEntries, cfg.MaxBytes),
		pending: make(map[string]*pendingFill),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
		born:    time.Now(),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Close ends the invalidation link and drops every entry; a store using
// the cache then reads Redis every time. It waits for the link's
// goroutines to end, and may be called more than once.
func (c *ClientCache) Close() {
	if c.following != nil {
		c.following.removeCache(c)
	}
	c.cancel()
	<-c.done
	_ = c.link.Close()
}

// Stats returns the cache's state and counters.
func (c *ClientCache) Stats() ClientCacheStats {
	c.mu.Lock()
	linked, n, size := c.linked, c.entries.len(), c.entries.size
	c.mu.Unlock()
	return ClientCacheStats{
		Linked: linked, Entries: n, Bytes: size,
		Hits: c.hits.Load(), Misses: c.misses.Load(),
		Invalidations: c.invalidations.Load(), Flushes: c.flushes.Load(),
	}
}

// get returns a copy of the data kept for key, if it is still good at now
// and the link is not too far behind to vouch for it (see linkFresh).
// now is the store's clock; the link's lag is measured by the wall clock.
func (c *ClientCache) get(key string, now time.Time) (domain.TokenData, bool) {
	data, ok := c.getHeld(key, now)
	if !ok {
		c.misses.Add(1)
		return domain.TokenData{}, false
	}
	c.hits.Add(1)
	return data, true
}

// getHeld is get counting neither a hit nor a miss.
func (c *ClientCache) getHeld(key string, now time.Time) (domain.TokenData, bool) {
	if c.sinceBorn()-c.upTo.Load() > int64(linkFresh) {
		// Kept, for when the link has caught up and applied what it holds.
		return domain.TokenData{}, false
	}
	c.mu.Lock()
	e, ok := c.entries.get(key)
	if ok && !e.goodAt(now) {
		c.entries.remove(key)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return domain.TokenData{}, false
	}
	// Entries are never changed once kept, so the copy needs no lock.
	return e.data.Clone(), true
}

// beginFill registers a read of key from Redis, whose value may be kept if
// nothing invalidates key, and the link stays up, until endFill.
func (c *ClientCache) beginFill(key string) fillTicket {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[key]
	if p == nil {
		p = &pendingFill{}
		c.pending[key] = p
	}
	p.readers++
	return fillTicket{key: key, epoch: c.epoch, invalidations: p.invalidations, ok: c.linked, server: c.linkServer}
}

// endFill ends the read t began, keeping a copy of data for key until
// until (zero: while Redis keeps it) if keep is set and the value read is
// still current. size is the entry's estimated memory.
func (c *ClientCache) endFill(t fillTicket, keep bool, data domain.TokenData, until time.Time, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[t.key]
	p.readers--
	if p.readers == 0 {
		delete(c.pending, t.key)
	}
	if keep && t.ok && c.linked && t.epoch == c.epoch && t.invalidations == p.invalidations {
		// A copy of the key: the caller's may be cut from a larger string
		// (a request's header), which the entry would keep, uncounted.
		c.entries.add(strings.Clone(t.key), entry{data: data.Clone(), until: until, size: size})
	}
}

// sinceBorn is the time since the cache was made, by the monotonic clock
// (a wall clock set back would otherwise vouch for a lagging link), in
// nanoseconds: what pings carry and upTo holds.
func (c *ClientCache) sinceBorn() int64 { return int64(time.Since(c.born)) }

// caughtUp records that the link has applied every change Redis made
// before sent (see sinceBorn), when a ping it answered went out.
func (c *ClientCache) caughtUp(sent int64) {
	for {
		old := c.upTo.Load()
		if sent <= old || c.upTo.CompareAndSwap(old, sent) {
			return
		}
	}
}

// invalidate drops key and spoils the reads of it under way.
func (c *ClientCache) invalidate(key string) {
	c.invalidations.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.remove(key)
	if p := c.pending[key]; p != nil {
		p.invalidations++
	}
}

// setLinked records whether the link is up. Either way everything kept so
// far is dropped, and reads under way are not kept: what was read before
// the link came up may have changed unseen, and nothing is seen while it
// is down.
func (c *ClientCache) setLinked(linked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLinkedLocked(linked)
}

// linkUp marks the cache linked through sub, unless on Sentinel the link
// is no longer on the server the sentinels last reported as master.
func (c *ClientCache) linkUp(sub *goredis.PubSub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sentinel != nil && c.linkAddr != c.master {
		return false
	}
	c.setLinkedLocked(true)
	c.sub = sub
	return true
}

func (c *ClientCache) setLinkedLocked(linked bool) {
	if c.linked { // entries are kept only while linked
		c.flushes.Add(1)
	}
	c.entries.clear()
	c.epoch++
	c.sub = nil
	if c.linked != linked {
		c.linked = linked
		close(c.changed)
		c.changed = make(chan struct{})
	}
	if linked {
		// Nothing is kept from before, and the link has just answered.
		c.caughtUp(c.sinceBorn())
	}
}

// linkChanged returns whether the link is up, and a channel closed when
// that changes.
func (c *ClientCache) linkChanged() (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.linked, c.changed
}
