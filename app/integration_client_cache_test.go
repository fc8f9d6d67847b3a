package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/internal/integration"
)

// newRealEnvClientCache is newRealEnv with Config.ClientCache set.
func newRealEnvClientCache(t testing.TB) *realEnv {
	t.Helper()
	ctx := context.Background()
	cfg := app.Config{
		RedisURL:      integration.RedisURL(t),
		DatabaseURL:   integration.DatabaseURL(t),
		SessionSecret: newSessionSecret(t),
		TokenLifetime: 24 * time.Hour,
		CacheSize:     100,
		ClientCache:   true,
	}
	db, closeDB, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	migrateOnce.Do(func() { err = postgres.Migrate(ctx, db) })
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	raw, closeRaw, err := redis.NewClient(ctx, cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRaw)
	store, err := redis.NewTokenStore(raw, cfg.SessionSecret, memory.SystemClock{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err != nil {
		t.Fatalf("InitializeTokenCacheService: %v", err)
	}
	t.Cleanup(cleanup)
	return &realEnv{cfg: cfg, svc: svc, store: store, raw: raw, db: db}
}

// The client cache is off unless asked for: the provider then makes none.
func TestProvideRedisClientCacheOffByDefault(t *testing.T) {
	t.Parallel()
	cache, cleanup, err := app.ProvideRedisClientCache(context.Background(), nil, app.Config{}, slog.New(slog.DiscardHandler))
	if err != nil || cache != nil {
		t.Fatalf("ProvideRedisClientCache with the zero Config = %v, %v; want no cache", cache, err)
	}
	cleanup()
}

// With the client cache on, the composed service reuses a child as before,
// and a child another client revokes in Redis is replaced, not handed out,
// as soon as Redis's invalidation has arrived.
func TestIntegrationClientCacheRevokedChildIsReplaced(t *testing.T) {
	t.Parallel()
	e := newRealEnvClientCache(t)
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	old := e.internal(t, p, "portal", []string{"read:all"})
	if again := e.internal(t, p, "portal", []string{"read:all"}); again != old {
		t.Fatal("a cached child was not reused")
	}
	if err := e.raw.Del(ctx, "token:"+old.Key).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		fresh := e.internal(t, p, "portal", []string{"read:all"})
		if fresh != old {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("a child revoked a second ago is still handed out")
		}
	}
	t.Logf("the revoked child was replaced after %v", time.Since(start))
}
