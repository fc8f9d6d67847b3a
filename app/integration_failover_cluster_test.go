package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// A Redis Cluster master killed and restarted in the middle of traffic: one
// of a throwaway cluster's three masters (no replicas) is killed with
// SIGKILL under bounded concurrent load through a service built on the
// cluster's URL, and started again on its ports. The nodes keep what they
// acknowledged (an append-only file synced on every write), as a
// deployment that keeps tokens runs them: a node that came back empty
// would lose tokens Gafaelfawr had handed out too.

const (
	clusterRestartParents = 40
	clusterRestartWorkers = 8
	// clusterRestartNode is the master killed, of the three.
	clusterRestartNode   = 1
	clusterRestartWarmUp = 1500 * time.Millisecond
	// clusterRestartOutage is how long the master stays down: past the
	// cluster's node timeout (a second), after which the others take it
	// as failed and refuse every command.
	clusterRestartOutage = 2500 * time.Millisecond
	// clusterRestartRecovery is how soon after the cluster is whole again
	// every request must succeed; clusterRestartTail how long the load
	// goes on after that, to show it.
	clusterRestartRecovery = 3 * time.Second
	clusterRestartTail     = 1500 * time.Millisecond
)

// TestIntegrationClusterMasterRestartedUnderLoad checks, through the
// service on a Redis Cluster's URL:
//
//   - every request that fails fails with a store failure (a 503 from the
//     daemon), and without a token; none fails before the kill;
//   - while the master is down, a request succeeds only with a child held
//     by another master, and once the cluster has taken the master as
//     failed (its state fail), every request fails;
//   - from clusterRestartRecovery after the master is back and the cluster
//     whole, every request succeeds, on the same service;
//   - at the end (clean-ups done) every token handed out is in PostgreSQL
//     linked to its parent and in Redis with its data: none was lost; no
//     child is in Redis without its rows; of each child asked for again
//     and again exactly one exists.
func TestIntegrationClusterMasterRestartedUnderLoad(t *testing.T) {
	log := quietDefaultLogger(t)
	cluster := integration.StartDurableRedisCluster(t)
	e := newFailoverEnv(t, cluster.URL(), false)
	parents := make([]domain.TokenData, clusterRestartParents)
	for i := range parents {
		parents[i] = e.addParent(t, time.Hour)
	}
	killed := cluster.Addrs()[clusterRestartNode]
	owner := clusterSlotOwners(t, e)

	load := newFailoverLoad(e, parents, clusterRestartWorkers)
	var tl failoverTimeline
	tl.began = time.Now()
	load.start()
	t.Cleanup(load.stopLoad)         // before the service and the cluster go
	time.Sleep(clusterRestartWarmUp) // the load runs meanwhile: nothing to wait for
	tl.failing = time.Now()
	cluster.StopNode(t, clusterRestartNode)
	killedAt := time.Now()
	var watches []*clusterStateWatch
	for i, addr := range cluster.Addrs() {
		if i != clusterRestartNode {
			watches = append(watches, watchClusterState(t, addr))
		}
	}
	time.Sleep(clusterRestartOutage)
	// The cluster refuses every command once every master left says fail.
	var downAt time.Time
	allDown := true
	for _, w := range watches {
		at := w.stop()
		allDown = allDown && !at.IsZero()
		if at.After(downAt) {
			downAt = at
		}
	}
	if !allDown {
		downAt = time.Time{}
	}
	restarting := time.Now()
	cluster.StartNode(t, clusterRestartNode)
	tl.failedOver = time.Now()
	time.Sleep(clusterRestartRecovery + clusterRestartTail)
	tl.stopping = time.Now()
	load.stopLoad()
	t.Logf("master %s killed %v after the load began (took %v), the other masters in state fail %s after; started again %v after the kill, the cluster whole %v later; load went on %v after",
		killed, tl.failing.Sub(tl.began).Round(time.Millisecond), killedAt.Sub(tl.failing).Round(time.Millisecond),
		since(killedAt, downAt), restarting.Sub(killedAt).Round(time.Millisecond),
		tl.failedOver.Sub(restarting).Round(time.Millisecond), tl.stopping.Sub(tl.failedOver).Round(time.Millisecond))

	results := load.all()
	keys := make([]string, 0, len(results))
	for _, r := range results {
		if r.err == nil {
			keys = append(keys, r.token.Key)
		}
	}
	slots := keySlots(t, cluster.Addrs()[0], keys)
	onKilled := func(key string) bool { return owner[slots[key]] == killed }
	checkAnswers(t, results)
	checkFailoverPhases(t, results, tl, clusterRestartRecovery)
	checkClusterOutage(t, results, killedAt, downAt, restarting, onKilled)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.svc.DrainCleanups(ctx); err != nil {
		t.Fatalf("clean-ups still pending 15s after the load: %v", err)
	}
	checkStoresAfterLoss(t, e, parents, results, lossBound{
		began:   tl.failing,
		mayLose: func(string, *handedOut) bool { return false },
		goneBy:  killedAt,
		max:     0,
	})
	if t.Failed() {
		t.Logf("the service's log (warnings and errors):\n%s", log.tail(40))
	}
}

// checkClusterOutage checks the answers while a master was down: from
// killedAt, a success only with a child that another master holds, unless
// it was shared (rule 6) by a request for it that began before the kill,
// and from downAt (every master left in state fail) until restarting, no
// success.
func checkClusterOutage(t *testing.T, results []failoverResult, killedAt, downAt, restarting time.Time, onKilled func(key string) bool) {
	t.Helper()
	// sharedFromBefore reports whether r may have waited for the holder of
	// its child's lock, which read or wrote the child before the kill: a
	// request for the same child began before the kill, was still under
	// way when r began, and got it.
	sharedFromBefore := func(r failoverResult) bool {
		for _, h := range results {
			if h.err == nil && h.token == r.token && h.start.Before(killedAt) && h.end.After(r.start) {
				return true
			}
		}
		return false
	}
	var during, succeeded, refused, refusedOK int
	for _, r := range results {
		if r.start.Before(killedAt) || r.end.After(restarting) {
			continue
		}
		during++
		if r.err == nil {
			succeeded++
			if onKilled(r.token.Key) && !sharedFromBefore(r) {
				t.Errorf("child %s, held by the killed master, was handed out for %s while it was down", r.token.Key, r.group())
			}
		}
		if !downAt.IsZero() && r.start.After(downAt) {
			if refused++; r.err == nil {
				if refusedOK++; refusedOK <= 3 {
					t.Errorf("a request for %s succeeded %v after the cluster's state was fail", r.group(), r.start.Sub(downAt).Round(time.Millisecond))
				}
			}
		}
	}
	t.Logf("while the master was down: %d requests, %d succeeded (before the cluster's state was fail, with children of the other masters); %d requests after it was fail (%d succeeded)",
		during, succeeded, refused, refusedOK)
	if downAt.IsZero() {
		t.Error("the cluster's state never became fail while the master was down")
	}
	if refused == 0 {
		t.Error("no request was made while the cluster's state was fail")
	}
}

// clusterSlotOwners maps each hash slot to the address of the master that
// serves it.
func clusterSlotOwners(t *testing.T, e *realEnv) map[int]string {
	t.Helper()
	c, ok := e.raw.(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("want a cluster client, have a %T", e.raw)
	}
	ranges, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	owners := make(map[int]string, 16384)
	for _, r := range ranges {
		for slot := r.Start; slot <= r.End; slot++ {
			owners[slot] = r.Nodes[0].Addr
		}
	}
	if len(owners) != 16384 {
		t.Fatalf("CLUSTER SLOTS lists %d slots, want 16384", len(owners))
	}
	return owners
}

// keySlots asks the cluster node at addr for the hash slot of each token
// key's Redis key.
func keySlots(t *testing.T, addr string, keys []string) map[string]int {
	t.Helper()
	ctx := context.Background()
	node := goredis.NewClient(&goredis.Options{Addr: addr})
	defer node.Close()
	out := make(map[string]int, len(keys))
	cmds, err := node.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.ClusterKeySlot(ctx, "token:"+k)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	for i, cmd := range cmds {
		out[keys[i]] = int(cmd.(*goredis.IntCmd).Val())
	}
	return out
}

// clusterStateWatch polls a cluster node's state until stopped, and keeps
// when it first was fail.
type clusterStateWatch struct {
	done     chan struct{}
	doneOnce sync.Once
	stopped  sync.WaitGroup
	downAt   time.Time // written by the poller only, read after stopped
}

// watchClusterState starts polling the node at addr every 20ms.
func watchClusterState(t *testing.T, addr string) *clusterStateWatch {
	t.Helper()
	node := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	w := &clusterStateWatch{done: make(chan struct{})}
	w.stopped.Go(func() {
		defer node.Close()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for w.downAt.IsZero() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := node.ClusterInfo(ctx).Result()
			cancel()
			if err == nil && strings.Contains(info, "cluster_state:fail") {
				w.downAt = time.Now()
			}
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
		<-w.done
	})
	t.Cleanup(func() { w.stop() })
	return w
}

// stop ends the polling and returns when the node first reported the state
// fail, or the zero time if it never did.
func (w *clusterStateWatch) stop() time.Time {
	w.doneOnce.Do(func() { close(w.done) })
	w.stopped.Wait()
	return w.downAt
}
