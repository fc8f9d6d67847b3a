package redis_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// A token read once is served from memory, as a copy the caller may change
// without changing what the next caller gets.
func TestClientCacheServesCopiesFromMemory(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	got, err := e.store.GetByKey(context.Background(), data.Token.Key)
	if err != nil {
		t.Fatal(err)
	}
	got.Scopes[0], got.Groups[0].Name = "changed", "changed"
	e.mustHit(t, data)
}

// Whatever this process writes or deletes is what it reads next, without
// waiting for Redis's invalidation.
func TestClientCacheReadsItsOwnWrites(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	data.Scopes = []string{"read:all"}
	e.put(t, data)
	got, err := e.store.Get(ctx, data.Token)
	if err != nil || !reflect.DeepEqual(got, data) {
		t.Fatalf("Get after Store returned %+v, %v; want the new data", got, err)
	}
	if err := e.store.Delete(ctx, data.Token.Key); err != nil {
		t.Fatal(err)
	}
	_, err = e.store.Get(ctx, data.Token)
	wantNotFound(t, err)
}

// A token another client revokes (DEL) or rewrites (SET) is no longer
// served once Redis has told the cache, within a second in every one of
// 250 trials, each on a token served from memory until the change. The
// test logs the p50 and p99; the target on the p99 (under 10 ms) is a
// timing target, which scripts/bench checks from that line: asserted
// here, a loaded machine failed it now and then.
func TestClientCacheRevocationLatency(t *testing.T) {
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	const trials = 250
	var all, dels, sets []time.Duration
	for i := range trials {
		data := e.fullData(t)
		e.put(t, data)
		e.mustHit(t, data)
		rewrite := i%2 == 1
		var start time.Time
		if rewrite {
			changed := data
			changed.Scopes = []string{"read:all"}
			if err := e.plain.Store(ctx, changed); err != nil {
				t.Fatal(err)
			}
		} else if err := e.other.Del(ctx, "token:"+data.Token.Key).Err(); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		for {
			got, err := e.store.Get(ctx, data.Token)
			if rewrite && err == nil && len(got.Scopes) == 1 {
				break
			}
			if !rewrite && errors.Is(err, ports.ErrNotFound) {
				break
			}
			if err != nil && !errors.Is(err, ports.ErrNotFound) {
				t.Fatalf("Get: %v", err)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("trial %d: the old data was still served a second after the change", i)
			}
			pollPause()
		}
		d := time.Since(start)
		all = append(all, d)
		if rewrite {
			sets = append(sets, d)
		} else {
			dels = append(dels, d)
		}
	}
	t.Logf("served until the change was seen, %d trials: p50 %v, p99 %v, max %v; DEL p50 %v p99 %v; SET p50 %v p99 %v",
		trials, percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1),
		percentile(dels, 0.5), percentile(dels, 0.99), percentile(sets, 0.5), percentile(sets, 0.99))
}

// The link killed by the server (CLIENT KILL) drops everything cached: a
// token changed meanwhile, with no invalidation sent, is read from Redis.
// Once the link is back the cache serves and invalidates again.
func TestClientCacheLinkKilled(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	flushes := e.cache.Stats().Flushes
	if err := e.other.Do(ctx, "CLIENT", "KILL", "ID", e.cache.LinkID()).Err(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	changed := data
	changed.Scopes = []string{"read:all"}
	if err := e.plain.Store(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.AwaitFlushes(within(t, 5*time.Second), flushes); err != nil {
		t.Fatalf("the broken link was not seen: %v", err)
	}
	got, err := e.mustMiss(t, data.Token)
	if err != nil || !reflect.DeepEqual(got, changed) {
		t.Fatalf("Get after the link broke returned %+v, %v; want the changed data", got, err)
	}

	if err := e.cache.AwaitLinked(within(t, 5*time.Second)); err != nil {
		t.Fatalf("the link did not come back: %v", err)
	}
	e.mustHit(t, changed)
	if err := e.other.Del(ctx, "token:"+data.Token.Key).Err(); err != nil {
		t.Fatal(err)
	}
	awaitNotFound(t, e, data.Token)
}

// An entry is not served past the token's expiry by the store's clock, nor
// past its Redis entry's TTL.
func TestClientCacheExpiry(t *testing.T) {
	t.Parallel()
	t.Run("token expiry", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		data.Expires = e.clock.Now().Add(time.Minute)
		e.put(t, data)
		e.mustHit(t, data)
		e.clock.Advance(time.Minute)
		_, err := e.mustMiss(t, data.Token)
		wantNotFound(t, err)
	})
	t.Run("redis TTL", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t) // expires in an hour
		e.put(t, data)
		if err := e.other.Expire(context.Background(), "token:"+data.Token.Key, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		e.mustHit(t, data)
		e.clock.Advance(time.Minute)
		// Redis's clock has not moved: it still has the entry.
		if _, err := e.mustMiss(t, data.Token); err != nil {
			t.Fatal(err)
		}
	})
}

// The cache holds at most MaxEntries tokens, evicting the least recently
// used, and none larger than MaxBytes.
func TestClientCacheBounds(t *testing.T) {
	t.Parallel()
	t.Run("entries", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{MaxEntries: 3})
		var tokens []domain.TokenData
		for range 4 {
			data := e.fullData(t)
			e.put(t, data)
			tokens = append(tokens, data)
		}
		e.awaitCaughtUp(t) // or a put's invalidation may drop an entry read since
		for _, d := range tokens[:3] {
			e.mustHit(t, d)
		}
		e.mustHit(t, tokens[0])
		e.mustHit(t, tokens[3]) // evicts tokens[1], the least recently used
		if n := e.cache.Stats().Entries; n != 3 {
			t.Errorf("%d entries, want 3 (stats %+v)", n, e.cache.Stats())
		}
		e.mustHit(t, tokens[0])
		if _, err := e.mustMiss(t, tokens[1].Token); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{MaxBytes: 1000})
		small := e.minimalData(t)
		big := e.fullData(t)
		big.Groups = nil
		for i := range 40 {
			big.Groups = append(big.Groups, domain.Group{Name: "g_group_" + strings.Repeat("x", i), ID: int64(i)})
		}
		e.put(t, small)
		e.put(t, big)
		e.awaitCaughtUp(t)
		e.mustHit(t, small)
		if _, err := e.store.Get(context.Background(), big.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := e.mustMiss(t, big.Token); err != nil {
			t.Fatal(err)
		}
		if st := e.cache.Stats(); st.Bytes > 1000 || st.Entries != 1 {
			t.Errorf("stats %+v, want the small token only, within 1000 bytes", st)
		}
	})
}

// Readers racing with another client's writes never keep an old value:
// once the writes stop, the last one is what is served.
func TestClientCacheKeepsNoStaleValueUnderRace(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	data := e.fullData(t)
	e.put(t, data)
	const versions = 50
	stop := make(chan struct{})
	readers := make(chan error, 4)
	for range cap(readers) {
		go func() {
			for {
				select {
				case <-stop:
					readers <- nil
					return
				default:
				}
				if _, err := e.store.Get(ctx, data.Token); err != nil {
					readers <- err
					return
				}
			}
		}()
	}
	for i := range versions {
		v := data
		v.UID = int64(1000 + i)
		if err := e.plain.Store(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range cap(readers) {
		if err := <-readers; err != nil {
			t.Fatalf("Get: %v", err)
		}
	}
	start := time.Now()
	for {
		got, err := e.store.Get(ctx, data.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.UID == int64(1000+versions-1) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a second after the last write, UID %d is still served, want %d", got.UID, 1000+versions-1)
		}
		pollPause()
	}
}

// NewClientCache refuses what it cannot serve.
func TestNewClientCacheRefuses(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := within(t, 5*time.Second)
	cluster := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = cluster.Close() })
	if _, err := redis.NewClientCache(ctx, cluster, redis.ClientCacheConfig{}, logger); err == nil {
		t.Error("NewClientCache accepted a cluster client")
	}
	if _, err := redis.NewClientCache(ctx, newRawClient(t), redis.ClientCacheConfig{MaxEntries: -1}, logger); err == nil {
		t.Error("NewClientCache accepted a negative bound")
	}
	// A server that answers PING but knows no CLIENT command, as one
	// before Redis 6 does not know CLIENT TRACKING.
	client, cleanup, err := redis.NewClient(ctx, "redis://"+silentServer(t)+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	_, err = redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, logger)
	if err == nil {
		t.Fatal("NewClientCache accepted a server without client tracking")
	}
}

// A cache serves one store only.
func TestWithClientCacheOnce(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	_, err := redis.NewTokenStore(e.raw, e.secret, e.clock, slog.New(slog.DiscardHandler), redis.WithClientCache(e.cache))
	if err == nil {
		t.Fatal("a second store took the same client cache")
	}
}

// Close ends the link: its connection leaves the server, and the store
// reads Redis again.
func TestClientCacheClose(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)
	id := e.cache.LinkID()
	e.cache.Close()
	e.cache.Close() // a second time does nothing
	if st := e.cache.Stats(); st.Linked || st.Entries != 0 {
		t.Errorf("stats after Close %+v, want unlinked and empty", st)
	}
	list, err := e.other.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list, "id="+strconv.FormatInt(id, 10)+" ") {
		t.Errorf("the link's connection %d is still open", id)
	}
	if _, err := e.mustMiss(t, data.Token); err != nil {
		t.Fatal(err)
	}
}
