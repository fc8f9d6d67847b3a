package redis_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/redis"
)

// GetLocal answers from process memory alone: what the client cache holds
// and would serve now, as Get would return it; anything else is false,
// for Get to answer, and leaves the cache as it was.
func TestGetLocalServesOnlyWhatTheClientCacheHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("held", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		e.put(t, data)
		e.awaitCaughtUp(t) // the invalidation of the test's own write
		e.mustHit(t, data)
		hits := e.cache.Stats().Hits
		got, ok := e.store.GetLocal(ctx, data.Token)
		if !ok || !reflect.DeepEqual(got, data) {
			t.Fatalf("GetLocal returned %+v, %v; want the token's data", got, ok)
		}
		if h := e.cache.Stats().Hits; h != hits+1 {
			t.Errorf("hits went from %d to %d; a read served from memory is a hit", hits, h)
		}
		got.Scopes[0] = "changed"
		if again, ok := e.store.GetLocal(ctx, data.Token); !ok || !reflect.DeepEqual(again, data) {
			t.Errorf("a caller's change to what GetLocal returned reached the next read: %+v", again)
		}
	})

	t.Run("never read", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		if err := e.plain.Store(ctx, data); err != nil { // another process's token
			t.Fatal(err)
		}
		e.awaitCaughtUp(t)
		before := e.cache.Stats()
		if got, ok := e.store.GetLocal(ctx, data.Token); ok {
			t.Fatalf("GetLocal returned %+v for a token this process never read", got)
		}
		after := e.cache.Stats()
		if after.Misses != before.Misses || after.Entries != before.Entries {
			t.Errorf("GetLocal changed the cache (stats %+v, then %+v): the read that follows counts the miss", before, after)
		}
		// Not read from Redis either: the next Get must go there.
		if _, err := e.mustMiss(t, data.Token); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("revoked by another client", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		e.put(t, data)
		e.awaitCaughtUp(t) // the invalidation of the test's own write
		e.mustHit(t, data)
		if err := e.other.Del(ctx, "token:"+data.Token.Key).Err(); err != nil {
			t.Fatal(err)
		}
		e.awaitCaughtUp(t)
		if got, ok := e.store.GetLocal(ctx, data.Token); ok {
			t.Fatalf("GetLocal returned %+v for a token deleted from Redis", got)
		}
	})

	t.Run("secret does not match", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		e.put(t, data)
		e.awaitCaughtUp(t) // the invalidation of the test's own write
		e.mustHit(t, data)
		guess := data.Token
		guess.Secret = e.newToken(t).Secret
		if got, ok := e.store.GetLocal(ctx, guess); ok {
			t.Fatalf("GetLocal returned %+v for a token whose secret does not match", got)
		}
	})

	t.Run("past its expiry", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		data.Expires = e.clock.Now().Add(time.Minute)
		e.put(t, data)
		e.awaitCaughtUp(t) // the invalidation of the test's own write
		e.mustHit(t, data)
		e.clock.Advance(time.Minute)
		if got, ok := e.store.GetLocal(ctx, data.Token); ok {
			t.Fatalf("GetLocal returned %+v for an expired token", got)
		}
	})

	t.Run("context ended", func(t *testing.T) {
		t.Parallel()
		e := newCachedEnv(t, redis.ClientCacheConfig{})
		data := e.fullData(t)
		e.put(t, data)
		e.awaitCaughtUp(t) // the invalidation of the test's own write
		e.mustHit(t, data)
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if got, ok := e.store.GetLocal(ended, data.Token); ok {
			// Get fails on an ended context, even on a hit.
			t.Fatalf("GetLocal returned %+v on an ended context", got)
		}
	})

	t.Run("no client cache", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		data := e.fullData(t)
		if err := e.store.Store(ctx, data); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Get(ctx, data.Token); err != nil {
			t.Fatal(err)
		}
		if got, ok := e.store.GetLocal(ctx, data.Token); ok {
			t.Fatalf("GetLocal returned %+v from a store that holds nothing in memory", got)
		}
	})
}
