package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
)

// BenchmarkIntegrationCacheHitClientCache is BenchmarkIntegrationCacheHit
// with Config.ClientCache set: a hit then reads neither the child nor
// anything else from Redis, and hit/floor shows what that saves against one
// Redis GET plus decryption.
func BenchmarkIntegrationCacheHitClientCache(b *testing.B) {
	quiet := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(quiet)

	e := newRealEnvClientCache(b)
	ctx := context.Background()
	p := e.addParent(b, 7*24*time.Hour)
	child, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil {
		b.Fatal(err)
	}
	keys := fernet.MustDecodeKeys(e.cfg.SessionSecret)
	redisKey := "token:" + child.Key

	floor := func() {
		value, err := e.raw.Get(ctx, redisKey).Bytes()
		if err != nil || fernet.VerifyAndDecrypt(value, 0, keys) == nil {
			b.Fatalf("floor: %v", err)
		}
	}
	hit := func() {
		got, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
		if err != nil || got != child {
			b.Fatalf("hit: %v", err)
		}
	}
	for range 200 { // warm both paths, the connection pool and the client cache
		floor()
		hit()
	}
	var floorTime, hitTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		floor()
		mid := time.Now()
		hit()
		end := time.Now()
		floorTime += mid.Sub(start)
		hitTime += end.Sub(mid)
	}
	b.StopTimer()
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(hitTime.Nanoseconds())/float64(b.N), "hit-ns/op")
	b.ReportMetric(float64(hitTime)/float64(floorTime), "hit/floor")
}
