package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// The cache's memory bound holds whatever string the caller's key was cut
// from. The daemon's keys are cut from the request (a Basic credential's
// token is a substring of the whole decoded "user:password", up to some
// 48 KiB), and GetByKey keeps an entry before the secret is checked: an
// entry kept under such a key pinned that whole string, uncounted.
func TestClientCacheEntryDoesNotPinTheCallersKeyString(t *testing.T) {
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	const n, pad = 200, 48 << 10
	var tokens []domain.TokenData
	for range n {
		data := e.fullData(t)
		e.put(t, data)
		tokens = append(tokens, data)
	}
	e.awaitCaughtUp(t)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for _, data := range tokens {
		wrong := data.Token
		wrong.Secret = strings.Repeat("A", 22) // the key is enough
		for range 2 {                          // the first read may be spoiled by the put's invalidation
			cred := strings.Repeat("u", pad) + ":" + wrong.String()
			tok, err := domain.ParseToken(cred[pad+1:])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.Get(ctx, tok); !errors.Is(err, ports.ErrNotFound) {
				t.Fatalf("Get with a wrong secret: %v", err)
			}
		}
	}
	after := heap()
	st := e.cache.Stats()
	if st.Entries != n {
		t.Fatalf("%d entries kept, want %d", st.Entries, n)
	}
	if grown, limit := int64(after)-int64(before), 4*st.Bytes+1<<20; grown > limit {
		t.Errorf("the heap grew by %.1f MiB for %d entries the cache counts as %.1f KiB: each entry pins the string its key was cut from",
			float64(grown)/(1<<20), st.Entries, float64(st.Bytes)/(1<<10))
	}
	runtime.KeepAlive(tokens)
}

// Close does not wait out a dial of the link that hangs: here the link is
// killed while its server's address has become a black hole, and go-redis
// dials again on its own, inside the read of the link, with a context
// bounded only by the dial timeout, 5 s, which Close did not end.
func TestClientCacheCloseDoesNotWaitForARedialThatHangs(t *testing.T) {
	u, err := url.Parse(integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	var blackhole atomic.Bool
	opts.DialerRetries = 1 // as redis.NewClient sets it
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if blackhole.Load() {
			// What a net.Dialer whose Timeout is the dial timeout does when
			// no SYN-ACK comes.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return nil, errors.New("dial tcp: i/o timeout")
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	client := goredis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	cache, err := redis.NewClientCache(context.Background(), client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	direct := newRawClient(t)
	blackhole.Store(true)
	flushes := cache.Stats().Flushes
	if err := direct.Do(context.Background(), "CLIENT", "KILL", "ID", cache.LinkID()).Err(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	if err := cache.AwaitFlushes(within(t, 3*time.Second), flushes); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the redial is under way
	start := time.Now()
	cache.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v, waiting for the link's redial to a black hole to time out", d)
	}
}
