package redis_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// A sentinel of the URL that never answers (its host dropping packets,
// which the polls wait 500 ms for): the link's dial asks the sentinels
// too, and must not wait for that one for all of its own time (5 s), or
// the dial runs out before it reaches the master, every time, and the
// link never reopens after a failover.
func TestClientCacheLinkFollowsAFailoverPastASilentSentinel(t *testing.T) {
	t.Parallel()
	a, b := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	s := &fakeSentinel{}
	s.set(a.Addr(), 1, b.Addr())
	silent := serveLoopback(t, func(net.Conn) {}) // accepts, never answers
	client := newClientAt(t, "redis+sentinel://"+s.serve(t)+"?addr="+silent+"&master_name=fake")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewClientCache after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer cache.Close()
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("NewClientCache took %v: its question waited for the silent sentinel past its 2 s", d.Round(time.Millisecond))
	}
	// A failover: the link must follow within about a poll.
	s.set(b.Addr(), 2, a.Addr())
	start = time.Now()
	for cache.Stats().Linked { // a poll drops the link
		if time.Since(start) > 5*time.Second {
			t.Fatal("the link was not dropped after the failover")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("link dropped after %v", time.Since(start).Round(time.Millisecond))
	actx, acancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer acancel()
	if err := cache.AwaitLinked(actx); err != nil {
		t.Fatalf("the link was not back on the new master %v after the failover: %v (stats %+v)", time.Since(start).Round(time.Millisecond), err, cache.Stats())
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the link took %v to come back on the new master (polls every 250 ms, each of the link's questions bounded by 2 s)", d.Round(time.Millisecond))
	}
}
