package app_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// With RedisReplicaAcks, a creation whose write no replica acknowledges
// fails as a store failure and leaves nothing: the child the master took
// is deleted again (one DEL on the master) and has no rows. Once the
// replica is back, creations succeed.
func TestIntegrationReplicaAcksWithoutReplica(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	cfg := failoverConfig(t, group.URL(), false)
	cfg.RedisReplicaAcks = 1
	e := newRealEnvFrom(t, cfg)
	parent := e.addParent(t, time.Hour)

	group.StopReplica(t)
	deletes := commandCalls(t, group.MasterAddr(), "del")
	tok, err := e.svc.GetNotebookToken(context.Background(), parent, "192.0.2.1", 0)
	switch {
	case !storeFailure(err) || !errors.Is(err, redis.ErrNotReplicated):
		t.Fatalf("GetNotebookToken with the replica down = %v, want a store failure wrapping ErrNotReplicated", err)
	case tok != (domain.Token{}):
		t.Errorf("GetNotebookToken failed with token %s, want none", tok.Key)
	}
	// The clean-up's DEL is done on the master at once, but no replica
	// acknowledges it either: it stays pending, and is retried, until one
	// does, so that a failover cannot bring the child back.
	if n := commandCalls(t, group.MasterAddr(), "del") - deletes; n < 1 {
		t.Errorf("the master ran %d DELs for the failed creation, want at least 1", n)
	}
	if n := e.svc.PendingCleanups(); n != 1 {
		t.Errorf("%d clean-ups pending with the replica down, want the 1 unacknowledged delete", n)
	}
	if n := e.redisChildren(t, parent.Username); n != 0 {
		t.Errorf("%d children in Redis after the failed creation, want none", n)
	}
	if n := e.children(t, parent.Token.Key); n != 0 {
		t.Errorf("%d children recorded after the failed creation, want none", n)
	}

	group.StartReplica(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.svc.DrainCleanups(ctx); err != nil {
		t.Errorf("the unacknowledged delete still pending with the replica back: %v", err)
	}
	child := e.notebook(t, parent)
	e.mustHoldChild(t, parent, child)
}

// commandCalls is how many times the Redis server at addr has run the
// command name (INFO commandstats).
func commandCalls(t *testing.T, addr, name string) int {
	t.Helper()
	server := goredis.NewClient(&goredis.Options{Addr: addr})
	defer server.Close()
	stats, err := server.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats on %s: %v", addr, err)
	}
	for line := range strings.SplitSeq(stats, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("INFO commandstats on %s: %q", addr, line)
		}
		return n
	}
	return 0
}
