package redis_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
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
