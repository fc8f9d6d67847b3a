package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/lib/pq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// A Sentinel failover in the middle of traffic: the sentinels of a
// throwaway group are told to promote the replica (SENTINEL FAILOVER)
// while bounded concurrent load goes through a service built on the
// group's URL: with the service waiting for the replica to acknowledge
// each new child (client cache off and on), with the master configured to
// refuse writes its replica does not get, and with neither.

const (
	sentinelFailoverParents = 40
	sentinelFailoverWorkers = 8
	// sentinelFailoverWarmUp is the load before the failover.
	sentinelFailoverWarmUp = 1500 * time.Millisecond
	// sentinelFailoverRecovery is how soon after the sentinels agree on
	// the new master every request must succeed: the service's client
	// follows the master by itself. sentinelFailoverTail is how long the
	// load goes on after that, to show it.
	sentinelFailoverRecovery = 3 * time.Second
	sentinelFailoverTail     = 1500 * time.Millisecond
	// sentinelFailoverRevoked is how many children handed out before the
	// failover are revoked on the new master just after it.
	sentinelFailoverRevoked = 5
)

// failoverTimeline is when a store's failover happened.
type failoverTimeline struct {
	began      time.Time // the load started
	failing    time.Time // the failover began
	failedOver time.Time // the new master agreed on, or the stopped node back
	// whole is when the new master had a replica in sync again, for a
	// test that waits for it; zero otherwise.
	whole    time.Time
	stopping time.Time // the load was told to stop
}

// recovered is when every request should succeed again, but for the
// recovery time the test allows: once the store is whole again, if the
// test waited for it, else once it failed over.
func (tl failoverTimeline) recovered() time.Time {
	if !tl.whole.IsZero() {
		return tl.whole
	}
	return tl.failedOver
}

// failoverProtection is what keeps a Sentinel failover from losing
// children handed out.
type failoverProtection int

const (
	// noProtection: the service hands out a child once the master has it.
	noProtection failoverProtection = iota
	// minReplicas: min-replicas-to-write 1 on the first master.
	minReplicas
	// replicaAcks: the service's RedisReplicaAcks of 1.
	replicaAcks
)

// TestIntegrationSentinelFailoverUnderLoad checks, through the service on
// a Sentinel group's URL:
//
//   - every request that fails fails with a store failure (a 503 from the
//     daemon), and without a token; none fails before the failover;
//   - from sentinelFailoverRecovery after the sentinels agree on the new
//     master, every request succeeds, on the same service;
//   - a child revoked on the new master just after the failover (its key
//     deleted there, and its rows) is not handed out by a request that
//     starts revokedWithin later (the client cache's bound; with it off,
//     the service reads the new master at once);
//   - at the end (clean-ups done) every token handed out is in PostgreSQL
//     linked to its parent, and in Redis on the new master with its data
//     unless the failover lost it (see below); no child is in Redis
//     without its rows; of each child asked for again and again at most
//     one is in Redis, and a second exists only where the first was lost.
//
// Redis replicates asynchronously, and SENTINEL FAILOVER promotes the
// replica without stopping the old master, which the service's client
// keeps writing to until the sentinels announce the new one (a second or
// so): children written there in between are handed out and then lost,
// as the old master becomes a replica of the new. The service then makes
// a new child for them, and never hands out a lost one once its client has
// moved. A master with min-replicas-to-write 1, as Redis's Sentinel
// documentation advises, refuses writes as soon as its replica is
// promoted: those creations fail with a 503 instead, and at most the
// writes on their way to the replica at that instant (one per worker) can
// be lost. With RedisReplicaAcks 1 the service hands out no child until
// the replica has acknowledged it (WAIT): none is lost. The new master has
// no replica until the sentinels turn the old master into one, some ten
// seconds on, and creations fail until then: with it, every request must
// succeed from sentinelFailoverRecovery after the new master has a
// replica in sync. The test runs with replica acknowledgements and the
// client cache off and on (no loss allowed), with min-replicas-to-write 1
// (at most one loss per worker), and with neither (losses expected,
// checked to be bounded in time).
func TestIntegrationSentinelFailoverUnderLoad(t *testing.T) {
	log := quietDefaultLogger(t)
	for _, tc := range []struct {
		name        string
		clientCache bool
		protection  failoverProtection
	}{
		{"replica acks, client cache off", false, replicaAcks},
		{"replica acks, client cache on", true, replicaAcks},
		{"min-replicas-to-write", false, minReplicas},
		{"no protection", false, noProtection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testSentinelFailover(t, tc.clientCache, tc.protection)
			if t.Failed() {
				t.Logf("the service's log (warnings and errors):\n%s", log.tail(40))
			}
		})
	}
}

func testSentinelFailover(t *testing.T, clientCache bool, protection failoverProtection) {
	group := integration.StartRedisSentinel(t)
	if protection == minReplicas {
		// Only on the first master: the replica, once promoted, would
		// refuse every write until the old master rejoins it as a replica
		// (some ten seconds); with more replicas it could be set on all.
		configSet(t, group.MasterAddr(), "min-replicas-to-write", "1", "min-replicas-max-lag", "10")
	}
	cfg := failoverConfig(t, group.URL(), clientCache)
	if protection == replicaAcks {
		cfg.RedisReplicaAcks = 1
	}
	e := newRealEnvFrom(t, cfg)
	parents := make([]domain.TokenData, sentinelFailoverParents)
	for i := range parents {
		parents[i] = e.addParent(t, time.Hour)
	}

	load := newFailoverLoad(e, parents, sentinelFailoverWorkers)
	var tl failoverTimeline
	tl.began = time.Now()
	load.start()
	t.Cleanup(load.stopLoad)           // before the service and the group go
	time.Sleep(sentinelFailoverWarmUp) // the load runs meanwhile: nothing to wait for
	// Children the service has handed out (and with the cache on, keeps),
	// to be revoked on the new master.
	revoked := make([]domain.Token, sentinelFailoverRevoked)
	for i := range revoked {
		revoked[i] = e.notebook(t, parents[i])
	}
	oldMaster := group.MasterAddr()
	tl.failing = time.Now()
	group.Failover(t)
	tl.failedOver = time.Now()
	revokeOn(t, e, group.MasterAddr(), revoked)
	revokedAt := time.Now()
	if protection == replicaAcks {
		group.AwaitReplica(t)
		tl.whole = time.Now()
		t.Logf("the new master had a replica in sync %v after the failover",
			tl.whole.Sub(tl.failedOver).Round(time.Millisecond))
	}
	time.Sleep(time.Until(tl.recovered().Add(sentinelFailoverRecovery + sentinelFailoverTail)))
	tl.stopping = time.Now()
	load.stopLoad()
	t.Logf("master %s failed over to %s: load began %v before, the failover took %v, the revocation %v, load went on %v after",
		oldMaster, group.MasterAddr(), tl.failing.Sub(tl.began).Round(time.Millisecond),
		tl.failedOver.Sub(tl.failing).Round(time.Millisecond), revokedAt.Sub(tl.failedOver).Round(time.Millisecond),
		tl.stopping.Sub(tl.failedOver).Round(time.Millisecond))

	results := load.all()
	checkAnswers(t, results)
	checkFailoverPhases(t, results, tl, sentinelFailoverRecovery)
	results = checkRevokedNotHandedOut(t, e, parents, results, revoked, revokedAt)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.svc.DrainCleanups(ctx); err != nil {
		t.Fatalf("clean-ups still pending 15s after the load: %v", err)
	}
	bound := lossBound{
		began: tl.failing,
		// Written after the promotion began, by a request that started
		// before the service's client moved.
		mayLose: func(_ string, h *handedOut) bool {
			return h.firstEnd.After(tl.failing) && h.result.start.Before(tl.failedOver.Add(lossSettle))
		},
		goneBy: tl.failedOver.Add(lossSettle),
		max:    -1,
	}
	switch protection {
	case minReplicas:
		bound.max = sentinelFailoverWorkers
	case replicaAcks:
		// Every child handed out was on the replica that was promoted.
		bound.mayLose = func(string, *handedOut) bool { return false }
		bound.max = 0
	}
	checkStoresAfterLoss(t, e, parents, results, bound)
}

// configSet sets the Redis server at addr's parameters, given as name and
// value pairs.
func configSet(t *testing.T, addr string, pairs ...string) {
	t.Helper()
	server := goredis.NewClient(&goredis.Options{Addr: addr})
	defer server.Close()
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := server.ConfigSet(context.Background(), pairs[i], pairs[i+1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s on %s: %v", pairs[i], addr, err)
		}
	}
}

// newFailoverEnv is the service composed by InitializeTokenCacheService on
// the Redis at redisURL and the integration PostgreSQL, with the client
// cache as asked, caches large enough for every child of the load and no
// bound on children per parent, plus raw access to both stores.
func newFailoverEnv(t *testing.T, redisURL string, clientCache bool) *realEnv {
	t.Helper()
	return newRealEnvFrom(t, failoverConfig(t, redisURL, clientCache))
}

// failoverConfig is newFailoverEnv's configuration.
func failoverConfig(t *testing.T, redisURL string, clientCache bool) app.Config {
	t.Helper()
	return app.Config{
		RedisURL:             redisURL,
		DatabaseURL:          integration.DatabaseURL(t),
		SessionSecret:        newSessionSecret(t),
		TokenLifetime:        24 * time.Hour,
		CacheSize:            failoverMaxRequests,
		MaxChildrenPerParent: -1,
		ClientCache:          clientCache,
	}
}

// revokeOn revokes children as Gafaelfawr would, on the Redis server at
// addr: their keys there, then their rows.
func revokeOn(t *testing.T, e *realEnv, addr string, children []domain.Token) {
	t.Helper()
	ctx := context.Background()
	server := goredis.NewClient(&goredis.Options{Addr: addr})
	defer server.Close()
	keys := make([]string, len(children))
	for i, c := range children {
		if err := server.Del(ctx, "token:"+c.Key).Err(); err != nil {
			t.Fatalf("deleting %s on %s: %v", c.Key, addr, err)
		}
		keys[i] = c.Key
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM token WHERE token = ANY($1)`, pq.Array(keys)); err != nil {
		t.Fatalf("deleting the revoked children's rows: %v", err)
	}
}

// checkRevokedNotHandedOut fails t for a revoked child handed out by a
// request that started revokedWithin after the revocation, and checks that
// a request for each once the load is over gets a child in both stores.
// It returns the results without the revoked children, which are in
// neither store any more.
func checkRevokedNotHandedOut(t *testing.T, e *realEnv, parents []domain.TokenData, results []failoverResult, revoked []domain.Token, at time.Time) []failoverResult {
	t.Helper()
	gone := map[domain.Token]bool{}
	for _, tok := range revoked {
		gone[tok] = true
	}
	var kept []failoverResult
	var last time.Time // the last start of a request that got one after the revocation
	for _, r := range results {
		if r.err != nil || !gone[r.token] {
			kept = append(kept, r)
			continue
		}
		if r.start.After(at) && r.start.After(last) {
			last = r.start
		}
		if r.start.After(at.Add(revokedWithin)) {
			t.Errorf("child %s, revoked on the new master, was handed out for %s %v after", r.token.Key, r.group(),
				r.start.Sub(at).Round(time.Millisecond))
		}
	}
	t.Logf("revoked children last handed out by a request starting %s after their revocation", since(at, last))
	for i, tok := range revoked {
		again := e.notebook(t, parents[i])
		if again == tok {
			t.Errorf("child %s, revoked on the new master, was handed out after the load", tok.Key)
			continue
		}
		e.mustHoldChild(t, parents[i], again)
	}
	return kept
}
