package redis_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// On Sentinel the invalidation link follows the master: after a failover,
// a token deleted on the new master stops being served at once (not when
// the sentinels demote the old master, some eight seconds later), and the
// cache keeps serving, and dropping, tokens of the new master.
func TestClientCacheSentinelFailover(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	e := newCachedEnvAt(t, group.URL(), redis.ClientCacheConfig{})
	ctx := context.Background()
	before := e.fullData(t)
	e.put(t, before)
	e.mustHit(t, before)
	flushes := e.cache.Stats().Flushes

	group.Failover(t)
	master := goredis.NewClient(&goredis.Options{Addr: group.MasterAddr()})
	t.Cleanup(func() { _ = master.Close() })
	start := time.Now()
	if err := master.Del(ctx, "token:"+before.Token.Key).Err(); err != nil {
		t.Fatalf("DEL on the new master: %v", err)
	}
	awaitGone(t, e, before.Token, 2*time.Second)
	t.Logf("a token deleted on the new master was no longer served after %v", time.Since(start))
	if e.cache.Stats().Flushes <= flushes {
		t.Errorf("the cache did not drop what it held before the failover (stats %+v)", e.cache.Stats())
	}

	if err := e.cache.AwaitLinked(within(t, 5*time.Second)); err != nil {
		t.Fatalf("the link did not come back after the failover: %v", err)
	}
	clients, err := master.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(clients, "name=tokencache-invalidations") {
		t.Errorf("the invalidation link is not on the new master %s", group.MasterAddr())
	}
	after := e.fullData(t)
	e.put(t, after)
	e.mustHit(t, after)
	// Deleted behind the store's back: only the link can tell the cache.
	if err := master.Del(ctx, "token:"+after.Token.Key).Err(); err != nil {
		t.Fatalf("DEL on the new master: %v", err)
	}
	awaitNotFound(t, e, after.Token)
}

// On Sentinel, a value read from another server than the link's (here the
// replica, standing for an old master the store's client still talks to)
// is served but never kept: the link hears nothing of that server's
// changes.
func TestClientCacheSentinelKeepsOnlyItsServersValues(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	secret := newSessionSecret(t)
	clock := memory.NewManualClock(time.Now().UTC().Truncate(time.Second))
	cache, err := redis.NewClientCache(ctx, newClientAt(t, group.URL()), redis.ClientCacheConfig{}, logger)
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	t.Cleanup(cache.Close)
	replica := newClientAt(t, "redis://"+group.ReplicaAddr()+"/0")
	store, err := redis.NewTokenStore(replica, secret, clock, logger, redis.WithClientCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := redis.NewTokenStore(newClientAt(t, group.URL()), secret, clock, logger)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: writer, raw: newClientAt(t, group.URL()), secret: secret, clock: clock}
	data := e.fullData(t)
	if err := writer.Store(ctx, data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for { // until the replica has it
		_, err := store.Get(ctx, data.Token)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not get the token within 5s: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling replication: no event to wait on
	}
	for range 5 {
		if _, err := store.Get(ctx, data.Token); err != nil {
			t.Fatalf("Get from the replica: %v", err)
		}
	}
	if s := cache.Stats(); s.Hits != 0 || s.Entries != 0 || !s.Linked {
		t.Errorf("reads from the replica were kept or served from memory, or the link is down (stats %+v)", s)
	}
}

// NewClientCache refuses a Redis Cluster, and a Sentinel client that
// NewClient did not make, with messages that say why.
func TestNewClientCacheRefusesTopologies(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	cluster := integration.StartRedisCluster(t)
	failover := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: []string{unusedAddr(t)}})
	t.Cleanup(func() { _ = failover.Close() })
	for _, tc := range []struct {
		name   string
		client goredis.UniversalClient
		want   string
	}{
		{"cluster", newClientAt(t, cluster.URL()), "a Redis Cluster is not supported"},
		{"failover client of go-redis", failover, "supported only as NewClient makes it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache, err := redis.NewClientCache(within(t, 5*time.Second), tc.client, redis.ClientCacheConfig{}, logger)
			if err == nil {
				cache.Close()
				t.Fatal("NewClientCache accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// awaitGone polls Get of tok until it reports not found, for up to d.
func awaitGone(t *testing.T, e *cachedEnv, tok domain.Token, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := e.store.Get(context.Background(), tok)
		if err != nil {
			wantNotFound(t, err)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deleted token is still served after %v (stats %+v)", d, e.cache.Stats())
		}
		time.Sleep(time.Millisecond) // polling for a change: see pollPause
	}
}
