package main

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// TestSoak runs several daemons on the same stores under bounded
// concurrent load from many parents, revokes children and parents in Redis
// as Gafaelfawr does, and kills and restarts Redis half-way. It then checks:
//
//   - no duplicates: at every revocation and at the end, each (parent,
//     type, service, scopes) has at most one child in PostgreSQL that was
//     not revoked (a revoked child's successor is legitimate);
//   - no orphans: every child key in Redis has its rows, every child's
//     rows are complete, and every child not revoked is still in Redis;
//   - no revoked child, and no child of a revoked parent, handed out to a
//     request that started after the deletion was acknowledged;
//   - each answer is a 200 with a child of the kind asked for, a 401 for a
//     parent whose revocation had begun, or a 503 while Redis was down (up
//     to recoveryGrace after it was back), and it came within the request
//     timeout;
//   - the daemons recover without a restart: each answers 200 within
//     recoveryGrace after Redis is back, and its /healthz is healthy at
//     the end.
//
// The store restarted is a throwaway redis-server of the test's own, with
// an append-only file synced on every write, so that what Redis
// acknowledged survives the restart as it does in production; PostgreSQL
// is the shared integration database. TOKENCACHE_SOAK_DURATION (default
// 12s) sets the length of the load and TOKENCACHE_SOAK_WORKERS (default 8)
// its concurrency; scripts/soak runs it longer. The summary line is logged
// with -v.
func TestSoak(t *testing.T) {
	runSoak(t, soakConfigFromEnv(t))
}

// TestSoakClientCache is TestSoak with the daemons' client cache on
// (--client-cache). A revoked child or parent may then still be handed out
// while Redis's invalidation is on its way, but never to a request that
// started more than soakCacheWindow after the revocation was acknowledged:
// the cache serves nothing while its link is that far behind. The summary
// gives the latest such request.
func TestSoakClientCache(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	cfg.clientCache = true
	runSoak(t, cfg)
}

// soakCacheWindow is how long after a revocation was acknowledged the
// client cache may still serve what was revoked: its link's lag bound
// (linkFresh in adapters/redis).
const soakCacheWindow = time.Second

func runSoak(t *testing.T, cfg soakConfig) {
	databaseURL := integration.DatabaseURL(t)
	srv := integration.StartRedisServer(t, true)
	s := newSoakStores(t, srv.URL(), databaseURL)
	parents := mintSoakParents(t, s, cfg.parents)
	daemons := make([]*daemon, cfg.daemons)
	for i := range daemons {
		daemons[i] = startServe(t, s.env, "--listen", "127.0.0.1:0",
			"--request-timeout", soakRequestTimeout.String(), "--log-level", "warn",
			"--client-cache="+strconv.FormatBool(cfg.clientCache))
	}

	run := newSoakRun(cfg, s, parents, daemons, openRedis(t, srv.URL()))
	run.startLoad()
	t.Cleanup(run.stopLoad) // before the daemons and Redis are killed
	select {
	case <-time.After(cfg.duration / 2):
	case <-run.half:
	}
	run.outage(t, srv)
	select { // long enough to see the daemons recover
	case <-time.After(max(cfg.duration/2, recoveryGrace+2*time.Second)):
	case <-run.full:
	}
	run.stopLoad()
	elapsed := time.Since(run.began)

	for i, d := range daemons {
		if err := healthy(d); err != nil {
			t.Errorf("daemon %d after the load, not restarted: %v", i, err)
		}
	}
	// Stopped daemons write nothing more, so both stores can be scanned.
	for _, d := range daemons {
		d.stop(t)
	}
	v := run.verify(t)
	t.Logf("soak summary: %s in %s with %d daemons, %d parents, %d workers, client cache %v",
		v.summary(), elapsed.Round(time.Millisecond), cfg.daemons, cfg.parents, cfg.workers, cfg.clientCache)
	v.report(t)
}

// Fixed dimensions of the soak.
const (
	soakDaemons        = 3
	soakParents        = 30
	soakRequestTimeout = 5 * time.Second
	// soakLateBy is how far past the request timeout an answer may come
	// (scheduling on a loaded machine) before it counts as late.
	soakLateBy = 2 * time.Second
	// soakClientTimeout bounds a request from the test's side, so that a
	// daemon that never answers fails the test instead of hanging it.
	soakClientTimeout = 30 * time.Second
	// recoveryGrace is how long after Redis answers again a daemon may
	// still answer 503: go-redis, after a pool's worth of failed dials,
	// stops dialling on requests and probes once a second in the
	// background until a dial succeeds.
	recoveryGrace = 3 * time.Second
	// soakRequestsPerSecond bounds the requests: the duration times this.
	soakRequestsPerSecond = 2000
)

// soakConfig sizes a soak run.
type soakConfig struct {
	duration    time.Duration // of the load, the outage excluded
	outage      time.Duration // how long Redis stays down
	maxRequests int64
	daemons     int
	parents     int
	workers     int
	clientCache bool // the daemons' --client-cache
}

func soakConfigFromEnv(t *testing.T) soakConfig {
	t.Helper()
	cfg := soakConfig{duration: 12 * time.Second, daemons: soakDaemons, parents: soakParents, workers: 8}
	if v := os.Getenv("TOKENCACHE_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 2*time.Second {
			t.Fatalf("TOKENCACHE_SOAK_DURATION=%q: want a duration of at least 2s", v)
		}
		cfg.duration = d
	}
	if v := os.Getenv("TOKENCACHE_SOAK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			t.Fatalf("TOKENCACHE_SOAK_WORKERS=%q: want 1 to 256", v)
		}
		cfg.workers = n
	}
	// Long enough for requests to give up while Redis is down: go-redis
	// retries refused dials and commands for about two seconds.
	cfg.outage = min(max(cfg.duration/5, 3*time.Second), 30*time.Second)
	cfg.maxRequests = int64(cfg.duration.Seconds() * soakRequestsPerSecond)
	return cfg
}

// revocationWindow is how long after a revocation was acknowledged what it
// revoked may still be handed out.
func (c soakConfig) revocationWindow() time.Duration {
	if c.clientCache {
		return soakCacheWindow
	}
	return 0
}

// newSoakStores is realStores over the throwaway Redis at redisURL and the
// integration PostgreSQL, migrated.
func newSoakStores(t *testing.T, redisURL, databaseURL string) *realStores {
	t.Helper()
	s := &realStores{secret: newSessionSecret(t), rdb: openRedis(t, redisURL), db: openDatabase(t, databaseURL)}
	s.env = []string{
		envRedisURL + "=" + redisURL,
		envDatabaseURL + "=" + databaseURL,
		envSessionSecret + "=" + s.secret,
	}
	if stdout, stderr, code := runBinary(t, s.env, "migrate"); code != exitOK {
		t.Fatalf("migrate exited with %d: %s%s", code, stdout, stderr)
	}
	return s
}
