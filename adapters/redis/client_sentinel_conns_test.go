package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// fillPool has client open n connections at once, each left idle.
func fillPool(t *testing.T, client goredis.UniversalClient, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = client.BLPop(context.Background(), 300*time.Millisecond, "token:nothing").Err()
		}()
	}
	wg.Wait()
}

// killPooled kills, on the server at addr, the connections whose last
// command was BLPOP (fillPool's), and returns how many.
func killPooled(t *testing.T, addr string) int {
	t.Helper()
	admin := goredis.NewClient(&goredis.Options{Addr: addr})
	defer admin.Close()
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if !strings.Contains(line, " cmd=blpop ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok && admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err() == nil {
				killed++
			}
		}
	}
	return killed
}

// Idle connections the master closed (its timeout, a restart, CLIENT KILL)
// are dropped by go-redis's health check before use, as with a plain
// failover client: a wrapper around them must not hide the socket it
// checks.
func TestSentinelClientDropsConnectionsTheMasterClosed(t *testing.T) {
	group := integration.StartRedisSentinel(t)
	client := newClientAt(t, group.URL())
	fillPool(t, client, 8)
	if n := killPooled(t, group.MasterAddr()); n < 5 {
		t.Fatalf("killed only %d pooled connections", n)
	}
	time.Sleep(100 * time.Millisecond)
	if err := client.Set(context.Background(), "token:after-kill", "x", 0).Err(); err != nil {
		t.Errorf("SET after the master closed the idle connections: %v", err)
	}
}

// The connections the poll closes after a missed +switch-master are
// dropped before use, not written on.
func TestSentinelClientWritesNotOnConnectionsThePollClosed(t *testing.T) {
	group := integration.StartRedisSentinel(t)
	proxy := newCutProxy(t, group.SentinelAddrs()[0])
	client := newClientAt(t, "redis+sentinel://"+proxy.addr()+"?master_name="+integration.SentinelMasterName)
	fillPool(t, client, 8)
	proxy.cut()
	group.Failover(t)
	proxy.restore()
	time.Sleep(time.Second) // several polls: the old master's connections are closed
	var failed []string
	for i := range 12 {
		if err := client.Set(context.Background(), fmt.Sprintf("token:polled-%d", i), "x", 0).Err(); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of 12 writes a second after the failover failed: %q", len(failed), failed)
	}
}
