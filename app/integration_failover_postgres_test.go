package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// PostgreSQL restarted in the middle of traffic: a throwaway cluster of
// the test's own is stopped (fast shutdown, as an operator's restart does)
// under bounded concurrent load and started again on the same port.

const (
	pgRestartParents = 40
	pgRestartWorkers = 8
	// pgRestartWarmUp is the load before the stop, pgRestartOutage how
	// long PostgreSQL stays down.
	pgRestartWarmUp = 1500 * time.Millisecond
	pgRestartOutage = 1500 * time.Millisecond
	// pgRestartRecovery is how soon after PostgreSQL accepts connections
	// again every request must succeed: the pool drops its dead
	// connections and dials new ones by itself. pgRestartTail is how long
	// the load goes on after that, to show it.
	pgRestartRecovery = 3 * time.Second
	pgRestartTail     = 1500 * time.Millisecond
)

// pgTimeline is when the restart happened.
type pgTimeline struct {
	stopping, down time.Time // Stop called; the server gone
	starting, up   time.Time // Start called; the server accepting connections
}

// TestIntegrationPostgresRestartedMidRun checks, through the service on
// the shared Redis and the throwaway PostgreSQL:
//
//   - every request that fails fails with a store failure (a 503 from the
//     daemon), and without a token;
//   - while PostgreSQL is down, every request for a child nobody had asked
//     for (a creation) fails, while children already handed out are still
//     served from Redis;
//   - from pgRestartRecovery after PostgreSQL is back, every request
//     succeeds, on the same service: its pool recovers by itself;
//   - at the end (clean-ups done) every token ever handed out is in Redis
//     with its data and in PostgreSQL linked to its parent, no child is in
//     Redis without its rows, and no child asked for again and again
//     exists twice;
//   - no goroutine is left behind once the service is closed.
func TestIntegrationPostgresRestartedMidRun(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { verifyNoLeak(t, before) })
	log := quietDefaultLogger(t)

	srv := integration.StartPostgresServer(t)
	e := newRestartEnv(t, srv.URL())
	parents := make([]domain.TokenData, pgRestartParents)
	for i := range parents {
		parents[i] = e.addParent(t, time.Hour)
	}
	t.Cleanup(func() { removeRedisTokensOf(t, e) })

	load := newFailoverLoad(e, parents, pgRestartWorkers)
	began := time.Now()
	load.start()
	t.Cleanup(load.stopLoad) // before the service and the server go
	var tl pgTimeline
	time.Sleep(pgRestartWarmUp) // the load runs meanwhile: nothing to wait for
	tl.stopping = time.Now()
	srv.Stop(t)
	tl.down = time.Now()
	time.Sleep(pgRestartOutage)
	tl.starting = time.Now()
	srv.Start(t)
	tl.up = time.Now()
	time.Sleep(pgRestartRecovery + pgRestartTail)
	load.stopLoad()
	t.Logf("load began %v before the stop; stop took %v, down %v, start took %v, load went on %v after",
		tl.stopping.Sub(began).Round(time.Millisecond), tl.down.Sub(tl.stopping).Round(time.Millisecond),
		tl.starting.Sub(tl.down).Round(time.Millisecond), tl.up.Sub(tl.starting).Round(time.Millisecond),
		time.Since(tl.up).Round(time.Millisecond))

	results := load.all()
	checkAnswers(t, results)
	checkRestartPhases(t, results, tl)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.svc.DrainCleanups(ctx); err != nil {
		t.Fatalf("clean-ups still pending 15s after the load: %v", err)
	}
	// The test's own pool lost its connections with the server; the
	// service's recovered by itself, as the phases showed.
	e.db = openTestDB(t, srv.URL())
	checkStores(t, e, parents, results)
	if t.Failed() {
		t.Logf("the service's log (warnings and errors):\n%s", log.tail(40))
	}
}

// checkRestartPhases checks the answers against the restart's timeline
// and logs a summary of them.
func checkRestartPhases(t *testing.T, results []failoverResult, tl pgTimeline) {
	t.Helper()
	// servedBefore is when each child was first handed out, if that was
	// before the stop began: the service has it cached from then on.
	servedBefore := map[string]time.Time{}
	for _, r := range results {
		if r.err == nil && r.end.Before(tl.stopping) {
			if at, ok := servedBefore[r.group()]; !ok || r.end.Before(at) {
				servedBefore[r.group()] = r.end
			}
		}
	}
	var downCreations, downCreationsOK, downHits, downHitsFailed, late, lateFailed int
	var firstOK, lastFailed time.Time // after the server was back
	for _, r := range results {
		_, cached := servedBefore[r.group()]
		switch {
		case !r.start.Before(tl.down) && !r.end.After(tl.starting) && r.fresh():
			if downCreations++; r.err == nil {
				if downCreationsOK++; downCreationsOK <= 3 {
					t.Errorf("a creation for %s while PostgreSQL was down succeeded: %s", r.group(), r.token.Key)
				}
			}
		case !r.start.Before(tl.down) && !r.end.After(tl.starting) && cached:
			if downHits++; r.err != nil {
				if downHitsFailed++; downHitsFailed <= 3 {
					t.Errorf("a child handed out before the outage, %s, was not served during it: %v", r.group(), r.err)
				}
			}
		case !r.start.Before(tl.up.Add(pgRestartRecovery)):
			if late++; r.err != nil {
				if lateFailed++; lateFailed <= 3 {
					t.Errorf("a request for %s %v after PostgreSQL was back failed: %v",
						r.group(), r.start.Sub(tl.up).Round(time.Millisecond), r.err)
				}
			}
		}
		if !r.start.Before(tl.up) {
			if r.err == nil && (firstOK.IsZero() || r.end.Before(firstOK)) {
				firstOK = r.end
			}
			if r.err != nil && r.end.After(lastFailed) {
				lastFailed = r.end
			}
		}
	}
	failures, stopFailures := 0, 0
	for _, r := range results {
		if r.err != nil {
			failures++
			if r.end.After(tl.stopping) && r.start.Before(tl.down) {
				stopFailures++ // cut off by the shutdown, or refused during it
			}
		}
	}
	t.Logf("%d requests, %d failed, %d of them during the stop; while down: %d creations (%d succeeded), %d requests for children served before (%d failed); "+
		"after: first success %v after the start, last failure %v after; %d requests from %v after (%d failed)",
		len(results), failures, stopFailures, downCreations, downCreationsOK, downHits, downHitsFailed,
		since(tl.up, firstOK), since(tl.up, lastFailed), late, pgRestartRecovery, lateFailed)
	if downCreationsOK > 3 {
		t.Errorf("... %d creations succeeded while PostgreSQL was down in all", downCreationsOK)
	}
	if downHitsFailed > 3 || lateFailed > 3 {
		t.Errorf("... %d cached children not served while down, %d late requests failed, in all", downHitsFailed, lateFailed)
	}
	// Without these the checks above saw nothing.
	if downCreations == 0 {
		t.Error("no creation was asked for while PostgreSQL was down")
	}
	if late < 10 {
		t.Errorf("only %d requests were made once the service should have recovered, want at least 10", late)
	}
}

// since is how long after from t was, or "never".
func since(from, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

// newRestartEnv is the service composed by InitializeTokenCacheService on
// the integration Redis and the PostgreSQL at databaseURL (migrated here),
// with caches large enough for every child of the load and no bound on
// children per parent, plus raw access to both stores.
func newRestartEnv(t *testing.T, databaseURL string) *realEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := app.Config{
		RedisURL:             integration.RedisURL(t),
		DatabaseURL:          databaseURL,
		SessionSecret:        newSessionSecret(t),
		TokenLifetime:        24 * time.Hour,
		CacheSize:            failoverMaxRequests,
		MaxChildrenPerParent: -1,
	}
	db := openTestDB(t, databaseURL)
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	raw, closeRaw, err := redis.NewClient(ctx, cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRaw)
	store, err := redis.NewTokenStore(raw, cfg.SessionSecret, memory.SystemClock{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err != nil {
		t.Fatalf("InitializeTokenCacheService: %v", err)
	}
	t.Cleanup(cleanup)
	return &realEnv{cfg: cfg, svc: svc, store: store, raw: raw, db: db}
}

// openTestDB opens a pool on databaseURL for the test's own statements,
// closed at cleanup.
func openTestDB(t *testing.T, databaseURL string) *sqlx.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, closeDB, err := postgres.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	return db
}

// logTail keeps what the service logs at warning level and above.
type logTail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// tail is the last n lines kept.
func (l *logTail) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := bytes.Split(bytes.TrimSuffix(l.buf.Bytes(), []byte("\n")), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}

// quietDefaultLogger sends the default logger, which
// InitializeTokenCacheService gives the service, to a logTail that keeps
// warnings and errors, until the test ends: a line per creation would
// drown the test's output. The test must not run in parallel.
func quietDefaultLogger(t *testing.T) *logTail {
	t.Helper()
	prev := slog.Default()
	l := &logTail{}
	slog.SetDefault(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return l
}
