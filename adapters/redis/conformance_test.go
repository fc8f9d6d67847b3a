package redis_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/ports/porttest"
)

func TestTokenStoreConformance(t *testing.T) {
	store, err := redis.NewTokenStore(newRawClient(t), newSessionSecret(t), memory.SystemClock{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	porttest.TestTokenStore(t, store)
}

// The same suite with the client cache on.
func TestTokenStoreConformanceClientCache(t *testing.T) {
	client := newRawClient(t)
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
