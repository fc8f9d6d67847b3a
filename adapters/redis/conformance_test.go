package redis_test

import (
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
