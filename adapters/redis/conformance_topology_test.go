package redis_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports/porttest"
)

// The conformance suite on a throwaway Redis Cluster (keys on three
// masters) and a throwaway Sentinel group, each reached by NewClient from
// its URL.
func TestTokenStoreConformanceTopologies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T) string // returns the topology's URL
	}{
		{"cluster", func(t *testing.T) string { return integration.StartRedisCluster(t).URL() }},
		{"sentinel", func(t *testing.T) string { return integration.StartRedisSentinel(t).URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, err := redis.NewTokenStore(newClientAt(t, tc.start(t)), newSessionSecret(t), memory.SystemClock{},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatalf("NewTokenStore: %v", err)
			}
			porttest.TestTokenStore(t, store)
		})
	}
}

// The suite with the client cache on, on a Sentinel group (the cache
// refuses a cluster).
func TestTokenStoreConformanceSentinelClientCache(t *testing.T) {
	t.Parallel()
	client := newClientAt(t, integration.StartRedisSentinel(t).URL())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache, err := redis.NewClientCache(context.Background(), client, redis.ClientCacheConfig{}, logger)
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	t.Cleanup(cache.Close)
	store, err := redis.NewTokenStore(client, newSessionSecret(t), memory.SystemClock{}, logger, redis.WithClientCache(cache))
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	porttest.TestTokenStore(t, store)
}

// newClientAt connects to the Redis at url, closed when the test ends.
func newClientAt(tb testing.TB, url string) goredis.UniversalClient {
	tb.Helper()
	client, cleanup, err := redis.NewClient(context.Background(), url)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(cleanup)
	return client
}
