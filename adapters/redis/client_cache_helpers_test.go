package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// cachedEnv is an env whose store reads through a client cache, with a
// second, plain client standing for another process (Gafaelfawr).
type cachedEnv struct {
	*env
	cache *redis.ClientCache
	other goredis.UniversalClient // also env.raw
	plain *redis.TokenStore       // on other, with the same secret and clock: no cache
}

// newCachedEnv is newEnv with a client cache on the integration Redis.
func newCachedEnv(t *testing.T, cfg redis.ClientCacheConfig) *cachedEnv {
	t.Helper()
	return newCachedEnvAt(t, integration.RedisURL(t), cfg)
}

// newCachedEnvAt is newCachedEnv on the Redis at url.
func newCachedEnvAt(t *testing.T, url string, cfg redis.ClientCacheConfig) *cachedEnv {
	t.Helper()
	ctx := context.Background()
	client, closeClient, err := redis.NewClient(ctx, url)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(closeClient)
	other, closeOther, err := redis.NewClient(ctx, url)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(closeOther)
	e := &env{
		raw:    other,
		secret: newSessionSecret(t),
		clock:  memory.NewManualClock(time.Now().UTC().Truncate(time.Second)),
		logs:   new(logBuffer),
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	cache, err := redis.NewClientCache(ctx, client, cfg, logger)
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	t.Cleanup(cache.Close)
	e.store, err = redis.NewTokenStore(client, e.secret, e.clock, logger, redis.WithClientCache(cache))
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	plain, err := redis.NewTokenStore(other, e.secret, e.clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	return &cachedEnv{env: e, cache: cache, other: other, plain: plain}
}

// put stores data through the store.
func (e *cachedEnv) put(t *testing.T, data domain.TokenData) {
	t.Helper()
	if err := e.store.Store(context.Background(), data); err != nil {
		t.Fatalf("Store: %v", err)
	}
}

// awaitCaughtUp waits, for up to 10 seconds, until the link has applied
// the invalidations of every write made so far, the test's own among them.
func (e *cachedEnv) awaitCaughtUp(t *testing.T) {
	t.Helper()
	if err := e.cache.AwaitCaughtUp(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// mustHit reads want's token until a read is served from memory, for up
// to a second, and checks that it returned want. The first read may not
// fill the cache: the invalidation Redis sends for the store's own write of
// the token may arrive after it.
func (e *cachedEnv) mustHit(t *testing.T, want domain.TokenData) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	for {
		hits := e.cache.Stats().Hits
		got, err := e.store.Get(ctx, want.Token)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
		}
		if e.cache.Stats().Hits > hits {
			return
		}
		if time.Since(start) > time.Second {
			t.Fatalf("no Get was served from memory for a second (stats %+v)", e.cache.Stats())
		}
	}
}

// mustMiss reads data's token and checks that it was not served from
// memory; it returns what Get returned.
func (e *cachedEnv) mustMiss(t *testing.T, tok domain.Token) (domain.TokenData, error) {
	t.Helper()
	hits := e.cache.Stats().Hits
	got, err := e.store.Get(context.Background(), tok)
	if h := e.cache.Stats().Hits; h != hits {
		t.Fatalf("Get was served from memory (stats %+v)", e.cache.Stats())
	}
	return got, err
}

// wantNotFound fails unless err is ports.ErrNotFound.
func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("got %v, want ports.ErrNotFound", err)
	}
}

// awaitNotFound polls Get of tok until it reports not found, for up to a
// second.
func awaitNotFound(t *testing.T, e *cachedEnv, tok domain.Token) {
	t.Helper()
	start := time.Now()
	for {
		_, err := e.store.Get(context.Background(), tok)
		if errors.Is(err, ports.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if time.Since(start) > time.Second {
			t.Fatal("a token deleted a second ago is still served")
		}
		pollPause()
	}
}

// within waits up to d for the test's next step.
func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// percentile returns the p-th percentile (0 to 1) of ds, which it sorts.
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[int(float64(len(ds)-1)*p)]
}

// pollPause is the interval between two reads of a test that polls for a
// change served from memory. It is no wait for an event: the test measures
// how soon a reader sees the change. A reader that spun instead (with
// runtime.Gosched) would keep the Go scheduler from polling the network,
// leaving the invalidation unread until sysmon polls it (every 10 ms),
// which no process serving requests, each arriving from the network, does.
func pollPause() {
	time.Sleep(20 * time.Microsecond)
}
