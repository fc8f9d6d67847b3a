package redis_test

import (
	"context"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// A Sentinel client's clean-up stops its polls of the sentinels, and a
// client cache's Close its following of them: no goroutine is left. Not
// parallel, so that no other test's goroutines come and go meanwhile.
func TestSentinelClientCleanupLeavesNoGoroutine(t *testing.T) {
	group := integration.StartRedisSentinel(t)
	before := goleak.IgnoreCurrent()
	ctx := context.Background()
	client, cleanup, err := redis.NewClient(ctx, group.URL())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		cleanup()
		t.Fatalf("NewClientCache: %v", err)
	}
	if err := client.Set(ctx, "token:cleanup", "x", 0).Err(); err != nil {
		t.Error(err)
	}
	cache.Close()
	cleanup()
	goleak.VerifyNone(t, before)
}
