package redis_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// Close while a dial waits for the sentinels to vouch for its server
// (go-redis's sentinel names one the last answer names a replica, and the
// polls cannot settle it) ends the wait: go-redis dials on a context of
// its own, which Close does not end. Not parallel, for goleak.
func TestSentinelClientCloseEndsADialWaitingForTheSentinels(t *testing.T) {
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	newest := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	newest.set(oldMaster.Addr(), 1, newMaster.Addr())
	stale := &fakeSentinel{refused: true}
	stale.set(oldMaster.Addr(), 1, newMaster.Addr())
	url := "redis+sentinel://" + newest.serve(t) + "?addr=" + stale.serve(t) + "&master_name=fake"
	before := goleak.IgnoreCurrent()
	client, cleanup, err := redis.NewClient(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	newest.fakeSentinel.mu.Lock()
	newest.silent = true
	newest.fakeSentinel.mu.Unlock()
	if n := newest.publish("+switch-master", "fake "+hostPortOf(oldMaster.Addr())+" "+hostPortOf(newMaster.Addr())); n == 0 {
		cleanup()
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = client.Set(ctx, "token:close-while-dialling", "x", 0).Err() // its dial waits in routeAsking
	cancel()
	if err == nil {
		t.Log("the write was acknowledged")
	}
	cleanup()
	closed := time.Now()
	if err := goleak.Find(before); err != nil {
		t.Errorf("%v after Close, goroutines are left: %v", time.Since(closed).Round(time.Millisecond), err)
	}
}
