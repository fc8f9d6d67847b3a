package redis_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
)

// benchEnv stores one full token on the integration Redis for a benchmark.
func benchEnv(b *testing.B) (*redis.TokenStore, *env, domain.TokenData) {
	b.Helper()
	raw := newRawClient(b)
	secret := newSessionSecret(b)
	clock := memory.NewManualClock(time.Now().UTC().Truncate(time.Second))
	store, err := redis.NewTokenStore(raw, secret, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	e := &env{store: store, raw: raw, secret: secret, clock: clock}
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Del(context.Background(), "token:"+tok.Key) })
	data := docData(tok)
	data.Created = clock.Now()
	data.Expires = data.Created.Add(time.Hour)
	if err := store.Store(context.Background(), data); err != nil {
		b.Fatal(err)
	}
	return store, e, data
}

// BenchmarkGet is the cache's hit path: one Get of a stored token.
func BenchmarkGet(b *testing.B) {
	store, _, data := benchEnv(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := store.Get(ctx, data.Token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetClientCache is BenchmarkGet with the client cache on: the
// hit path then reads process memory only.
func BenchmarkGetClientCache(b *testing.B) {
	store, cache, data := cachedBenchEnv(b)
	ctx := context.Background()
	hits := cache.Stats().Hits
	for b.Loop() {
		if _, err := store.Get(ctx, data.Token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cache.Stats().Hits-hits)/float64(b.N), "hits/op")
}

// BenchmarkGetClientCacheParallel is BenchmarkGetClientCache from 64
// goroutines at once, as a daemon under load reads.
func BenchmarkGetClientCacheParallel(b *testing.B) {
	store, cache, data := cachedBenchEnv(b)
	ctx := context.Background()
	hits := cache.Stats().Hits
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := store.Get(ctx, data.Token); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cache.Stats().Hits-hits)/float64(b.N), "hits/op")
}

// cachedBenchEnv stores one full token on the integration Redis through a
// store with the client cache on, and reads it until the cache serves it.
func cachedBenchEnv(b *testing.B) (*redis.TokenStore, *redis.ClientCache, domain.TokenData) {
	b.Helper()
	raw := newRawClient(b)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache, err := redis.NewClientCache(context.Background(), raw, redis.ClientCacheConfig{}, logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cache.Close)
	store, err := redis.NewTokenStore(raw, newSessionSecret(b), memory.SystemClock{}, logger, redis.WithClientCache(cache))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Del(context.Background(), "token:"+tok.Key) })
	data := docData(tok)
	data.Created = time.Now().UTC().Truncate(time.Second)
	data.Expires = data.Created.Add(time.Hour)
	ctx := context.Background()
	if err := store.Store(ctx, data); err != nil {
		b.Fatal(err)
	}
	for range 100 { // past the invalidation of the store's own write
		if _, err := store.Get(ctx, data.Token); err != nil {
			b.Fatal(err)
		}
	}
	return store, cache, data
}

// BenchmarkGetBaseline is the least any Get could cost: a raw GET of the
// same entry and its decryption.
func BenchmarkGetBaseline(b *testing.B) {
	_, e, data := benchEnv(b)
	get := baselineGet(b, e, data.Token.Key)
	for b.Loop() {
		get()
	}
}

// BenchmarkGetRatio reports Get's cost over the baseline's as "ratio". The
// two alternate within one loop, so drift in the shared server's load falls
// on both alike.
func BenchmarkGetRatio(b *testing.B) {
	store, e, data := benchEnv(b)
	get := baselineGet(b, e, data.Token.Key)
	ctx := context.Background()
	var storeTime, baseTime time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		get()
		mid := time.Now()
		if _, err := store.Get(ctx, data.Token); err != nil {
			b.Fatal(err)
		}
		storeTime += time.Since(mid)
		baseTime += mid.Sub(start)
		n++
	}
	b.ReportMetric(float64(storeTime)/float64(n), "get-ns/op")
	b.ReportMetric(float64(baseTime)/float64(n), "baseline-ns/op")
	b.ReportMetric(float64(storeTime)/float64(baseTime), "ratio")
}

// baselineGet returns a func that GETs key and decrypts it, as the store's
// hit path must at least.
func baselineGet(b *testing.B, e *env, key string) func() {
	b.Helper()
	k, err := fernet.DecodeKey(e.secret)
	if err != nil {
		b.Fatal(err)
	}
	keys := []*fernet.Key{k}
	ctx := context.Background()
	return func() {
		value, err := e.raw.Get(ctx, "token:"+key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		if fernet.VerifyAndDecrypt(value, 0, keys) == nil {
			b.Fatal("baseline: cannot decrypt")
		}
	}
}
