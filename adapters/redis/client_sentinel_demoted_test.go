package redis_test

import (
	"context"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// TestSentinelClientDialsNoMasterThePollHasSeenReplaced's situation (go-redis's
// own sentinel cut off from the others, naming the old master, which the
// others have made a replica of the new) with a third sentinel of the URL
// down (its host drops packets): the old master's own word, that it
// replicates the new, sends the dials there.
func TestSentinelClientFollowsADemotedMasterPastASentinelDown(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	own := &fakeSentinel{}
	own.set(oldMaster.Addr(), 1, newMaster.Addr())
	newest := &fakeSentinel{refused: true}
	newest.set(oldMaster.Addr(), 1, newMaster.Addr())
	silent := serveLoopback(t, func(net.Conn) {})
	client := newClientAt(t, "redis+sentinel://"+own.serve(t)+"?addr="+newest.serve(t)+"&addr="+silent+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	demote(t, oldMaster, newMaster)
	time.Sleep(3 * time.Second)
	start := time.Now()
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 10)
	t.Logf("%d of 10 acknowledged, %d lost, in %v", acknowledged, lost, time.Since(start).Round(time.Millisecond))
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of 10 writes acknowledged (%d on the old master) 3 s after the sentinels that answer agreed on %s; go-redis's own sentinel answers every poll, behind at epoch 1",
			acknowledged, lost, newMaster.Addr())
	}
}

// demote makes old a replica of master, as the sentinels do with an old
// master after a failover, and waits until it says so.
func demote(t *testing.T, old, master *integration.RedisServer) {
	t.Helper()
	ctx := context.Background()
	admin := goredis.NewClient(&goredis.Options{Addr: old.Addr()})
	defer admin.Close()
	host, port, _ := net.SplitHostPort(master.Addr())
	if err := admin.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		role, err := admin.Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "slave" {
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s did not become a replica: %v %v", old.Addr(), role, err)
		}
	}
}
