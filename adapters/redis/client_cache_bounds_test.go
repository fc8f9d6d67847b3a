package redis_test

import (
	"context"
	"errors"
	"fmt"
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

// The byte bound's estimate bounds the heap a kept token takes, whatever
// the lengths of its strings. The decoder keeps each string as an
// allocation of its own, which Go rounds up to its size class (9 bytes
// take 16, 33 take 48) or, past 32 KiB, to whole 8 KiB pages. Estimated as
// the JSON's length, 16 bytes a scope, 24 a group and 256, a name of
// 32 KiB and one byte took 1.25× its estimate, and 2,000 scopes of 9, 17
// or 33 characters 1.15×, 1.12× and 1.24×.
func TestClientCacheHeapStaysUnderTheByteBound(t *testing.T) {
	// A server of its own: nobody else's writes drop the entries.
	srv := integration.StartRedisServer(t, false)
	scopes := func(n int) func(*cachedEnv) domain.TokenData {
		return func(e *cachedEnv) domain.TokenData {
			d := e.minimalData(t)
			for i := range 2000 {
				d.Scopes = append(d.Scopes, fmt.Sprintf("s%0*d", n-1, i))
			}
			return d
		}
	}
	for _, shape := range []struct {
		name   string
		tokens int
		data   func(e *cachedEnv) domain.TokenData
	}{
		{"ordinary token", 1000, func(e *cachedEnv) domain.TokenData { return e.fullData(t) }},
		{"minimal token", 1000, func(e *cachedEnv) domain.TokenData { return e.minimalData(t) }},
		{"name of 32 KiB + 1", 300, func(e *cachedEnv) domain.TokenData {
			d := e.minimalData(t)
			d.Name = strings.Repeat("n", 32<<10+1)
			return d
		}},
		{"2,000 scopes of 9 characters", 100, scopes(9)},
		{"2,000 scopes of 17 characters", 100, scopes(17)},
		{"2,000 scopes of 33 characters", 100, scopes(33)},
		{"2,000 groups", 100, func(e *cachedEnv) domain.TokenData {
			d := e.minimalData(t)
			for i := range 2000 {
				d.Groups = append(d.Groups, domain.Group{Name: fmt.Sprintf("g%032d", i), ID: int64(i)})
			}
			return d
		}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			e := newCachedEnvAt(t, srv.URL(), redis.ClientCacheConfig{MaxEntries: 10000, MaxBytes: 1 << 30})
			ctx := context.Background()
			tokens := make([]domain.TokenData, shape.tokens)
			for i := range tokens {
				tokens[i] = shape.data(e)
				e.put(t, tokens[i])
			}
			e.awaitCaughtUp(t)
			// The first token is kept before the heap is measured: its
			// read grows the connection's buffers, which the others reuse.
			e.mustHit(t, tokens[0])
			heap := func() int64 {
				runtime.GC()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return int64(m.HeapAlloc)
			}
			counted := e.cache.Stats().Bytes
			before := heap()
			for _, d := range tokens[1:] {
				if _, err := e.store.Get(ctx, d.Token); err != nil {
					t.Fatal(err)
				}
			}
			grown := heap() - before
			st := e.cache.Stats()
			if st.Entries != len(tokens) {
				t.Fatalf("%d entries kept, want %d", st.Entries, len(tokens))
			}
			counted = st.Bytes - counted
			ratio := float64(grown) / float64(counted)
			t.Logf("%d tokens: heap %d bytes, estimate %d: %.2f×", len(tokens)-1, grown, counted, ratio)
			if grown > counted {
				t.Errorf("%d tokens take %d bytes of heap, over the %d the byte bound counts for them (%.2f×)",
					len(tokens)-1, grown, counted, ratio)
			}
			runtime.KeepAlive(tokens)
		})
	}
}
