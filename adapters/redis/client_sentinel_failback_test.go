package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// A failback (A, then B, then A again, as every second failover of a
// master with one replica is): go-redis hears +switch-master and dials A,
// the new master, before the next poll. A was named master before, at
// epoch 1, older than the epoch the client took (2); that does not make
// it an old master now, and no dial of it may go to B.
func TestSentinelClientFollowsAFailbackGoRedisHeardFirst(t *testing.T) {
	t.Parallel()
	a, b := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	s := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	s.set(a.Addr(), 1, b.Addr())
	client := newClientAt(t, "redis+sentinel://"+s.serve(t)+"?master_name=fake")
	if lost, _ := writesNotOn(t, client, a.Addr(), "first", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	// First failover, A -> B, at epoch 2.
	s.set(b.Addr(), 2, a.Addr())
	if n := s.publish("+switch-master", "fake "+hostPortOf(a.Addr())+" "+hostPortOf(b.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(time.Second) // several polls: B is the master taken, at epoch 2
	if lost, ack := writesNotOn(t, client, b.Addr(), "second", 5); lost > 0 || ack == 0 {
		t.Fatalf("%d of %d writes missed B after the first failover", lost, ack)
	}
	// Failback, B -> A, at epoch 3, just after a poll.
	asked := make(chan struct{}, 1)
	s.mu.Lock()
	s.asked = asked
	s.mu.Unlock()
	<-asked
	<-asked
	s.set(a.Addr(), 3, b.Addr())
	if n := s.publish("+switch-master", "fake "+hostPortOf(b.Addr())+" "+hostPortOf(a.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(20 * time.Millisecond) // go-redis reads the message
	lost, acknowledged := writesNotOn(t, client, a.Addr(), "third", 8)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes went to B, the master A replaced at epoch 3, after go-redis switched back to A",
			lost, acknowledged)
	}
}

// The same failback while the polls hear only a sentinel not yet told of
// it (TestSentinelClientSendsNoDialOfTheNewMasterToTheOld's situation): no
// dial of A may go to B for as long as that lasts.
func TestSentinelClientSendsNoDialOfAFailbackToTheOld(t *testing.T) {
	t.Parallel()
	a, b := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	newest := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	newest.set(b.Addr(), 2, a.Addr())
	stale := &fakeSentinel{refused: true} // go-redis takes the newest for its own
	stale.set(a.Addr(), 1, b.Addr())
	client := newClientAt(t, "redis+sentinel://"+newest.serve(t)+"?addr="+stale.serve(t)+"&master_name=fake")
	if lost, ack := writesNotOn(t, client, b.Addr(), "first", 5); lost > 0 || ack == 0 {
		t.Fatalf("%d of %d writes missed B", lost, ack)
	}
	stale.set(b.Addr(), 2, a.Addr()) // hears of the first failover
	time.Sleep(time.Second)
	// Failback to A at epoch 3, which only the newest knows; its answers
	// to the polls fail.
	newest.set(a.Addr(), 3, b.Addr())
	newest.fakeSentinel.mu.Lock()
	newest.silent = true
	newest.fakeSentinel.mu.Unlock()
	if n := newest.publish("+switch-master", "fake "+hostPortOf(b.Addr())+" "+hostPortOf(a.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(time.Second) // several polls
	lost, acknowledged := writesNotOn(t, client, a.Addr(), "after", 20)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to B after go-redis's sentinel switched back to A at epoch 3",
			lost, acknowledged)
	}
}

// writesAcrossFailover writes through client every 2 ms while group fails
// over, and for 1.5 s after the sentinels agree, and returns how many
// writes acknowledged after they agreed the new master lacks.
func writesAcrossFailover(t *testing.T, client goredis.UniversalClient, group *integration.RedisSentinel, prefix string) (lost, acked int) {
	t.Helper()
	ctx := context.Background()
	type write struct {
		key string
		at  time.Time
	}
	var mu sync.Mutex
	var done []write
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("token:%s-%d", prefix, i)
			if client.Set(ctx, key, "x", 0).Err() == nil {
				mu.Lock()
				done = append(done, write{key, time.Now()})
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	group.Failover(t)
	agreed := time.Now()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-finished
	master := goredis.NewClient(&goredis.Options{Addr: group.MasterAddr()})
	defer master.Close()
	for _, w := range done {
		if w.at.Before(agreed) {
			continue
		}
		acked++
		if err := master.Get(ctx, w.key).Err(); errors.Is(err, goredis.Nil) {
			lost++
		}
	}
	return lost, acked
}

// A real Sentinel group of one master and one replica, failed over twice:
// the second failover is a failback to the first master, which go-redis
// dials as soon as it hears of it, before the polls do. No write
// acknowledged after the sentinels agreed may be missing on the master.
func TestSentinelGroupFailbackLosesNoWrite(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	client := newClientAt(t, group.URL())
	lost, acked := writesAcrossFailover(t, client, group, "first")
	t.Logf("first failover: %d of %d writes acknowledged after the sentinels agreed are missing on the new master", lost, acked)
	lost, acked = writesAcrossFailover(t, client, group, "failback")
	if lost > 0 || acked == 0 {
		t.Errorf("failback: %d of %d writes acknowledged after the sentinels agreed are missing on the new master %s", lost, acked, group.MasterAddr())
	}
}
