package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/fernetbox"
	"github.com/tokencache/tokencache/internal/integration"
)

// faultBase is what every fault test shares: direct connections to the
// real servers, which look behind the proxies.
type faultBase struct {
	redisURL, databaseURL string
	raw                   goredis.UniversalClient
	db                    *sqlx.DB
}

func newFaultBase(t *testing.T) *faultBase {
	t.Helper()
	ctx := context.Background()
	b := &faultBase{redisURL: integration.RedisURL(t), databaseURL: integration.DatabaseURL(t)}
	db, closeDB, err := postgres.Open(ctx, b.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	migrateOnce.Do(func() { err = postgres.Migrate(ctx, db) })
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	raw, closeRaw, err := redis.NewClient(ctx, b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRaw)
	b.raw, b.db = raw, db
	return b
}

// faultEnv is the service composed by InitializeTokenCacheService with
// both stores behind fault proxies, plus a realEnv on the direct
// connections to seed parents and clean up.
type faultEnv struct {
	*realEnv
	base             *faultBase
	redis, postgres  *faultproxy.Proxy
	box              *fernetbox.Box
	closeService     func()
	deadline, leeway time.Duration
	service          string
	scopes           []string
}

// newFaultEnv starts the proxies and composes the service over them, its
// configuration changed by each of adjust. At cleanup it closes everything
// and then checks that no goroutine started since it was called is still
// running.
func newFaultEnv(t *testing.T, b *faultBase, adjust ...func(*app.Config)) *faultEnv {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { verifyNoLeak(t, before) })

	e := &faultEnv{base: b, deadline: time.Second, leeway: time.Second,
		service: "fault-portal", scopes: []string{"read:all"}}
	e.redis = startProxy(t, b.redisURL)
	e.postgres = startProxy(t, b.databaseURL)
	cfg := app.Config{
		RedisURL:      proxiedURL(t, b.redisURL, e.redis.Addr()),
		DatabaseURL:   proxiedURL(t, b.databaseURL, e.postgres.Addr()),
		SessionSecret: newSessionSecret(t),
		TokenLifetime: 24 * time.Hour,
		CacheSize:     100,
	}
	for _, a := range adjust {
		a(&cfg)
	}
	box, err := fernetbox.New(cfg.SessionSecret)
	if err != nil {
		t.Fatal(err)
	}
	store, err := redis.NewTokenStore(b.raw, cfg.SessionSecret, memory.SystemClock{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err != nil {
		t.Fatalf("InitializeTokenCacheService: %v", err)
	}
	e.box, e.closeService = box, cleanup
	e.realEnv = &realEnv{cfg: cfg, svc: svc, store: store, raw: b.raw, db: b.db}
	t.Cleanup(cleanup)
	return e
}

// startProxy puts a fault proxy in front of the server of rawURL.
func startProxy(t *testing.T, rawURL string) *faultproxy.Proxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// proxiedURL is rawURL with its host and port replaced by addr.
func proxiedURL(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// verifyNoLeak waits up to 15 seconds for every goroutine not in before to
// end (a driver's goroutines end soon after their connection does, not at
// once), then fails t naming those still running.
func verifyNoLeak(t *testing.T, before goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for goleak.Find(before) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // goleak offers no way to wait
	}
	goleak.VerifyNone(t, before)
}

// heal lets traffic through both proxies again.
func (e *faultEnv) heal(t *testing.T) {
	t.Helper()
	for _, p := range []*faultproxy.Proxy{e.redis, e.postgres} {
		if err := p.Heal(); err != nil {
			t.Fatal(err)
		}
	}
}

// request asks for the environment's internal token of p with ctx.
func (e *faultEnv) request(ctx context.Context, p domain.TokenData) (domain.Token, error) {
	return e.svc.GetInternalToken(ctx, p, e.service, e.scopes, "192.0.2.7", 0)
}

// outcome is how a request under a fault ended.
type outcome struct {
	token   domain.Token
	err     error
	elapsed time.Duration
}

// requestUnderFault makes the request with the environment's deadline and
// fails t unless it ends within the deadline and the leeway. A request
// still running by then is let go by healing the proxies, so that the test
// can go on and report everything else.
func (e *faultEnv) requestUnderFault(t *testing.T, p domain.TokenData) outcome {
	t.Helper()
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.deadline)
		defer cancel()
		tok, err := e.request(ctx, p)
		done <- outcome{token: tok, err: err, elapsed: time.Since(start)}
	}()
	select {
	case o := <-done:
		if o.elapsed > e.deadline+e.leeway {
			t.Errorf("the request took %v, longer than its deadline %v and leeway %v (err: %v)",
				o.elapsed.Round(time.Millisecond), e.deadline, e.leeway, o.err)
		}
		return o
	case <-time.After(e.deadline + e.leeway):
	}
	t.Errorf("the request was still running %v after its deadline of %v", e.leeway, e.deadline)
	e.heal(t)
	select {
	case o := <-done:
		t.Logf("once the proxies passed traffic again it ended after %v: %v", o.elapsed.Round(time.Millisecond), o.err)
		return o
	case <-time.After(time.Minute):
		t.Fatal("the request was still running a minute after the proxies passed traffic again")
		return outcome{}
	}
}

// waitForCleanups waits until the service has no clean-up pending.
func (e *faultEnv) waitForCleanups(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.svc.DrainCleanups(ctx); err != nil {
		t.Fatalf("clean-ups still pending after 15s: %v", err)
	}
}

// checkStoresAgree scans both stores and fails t unless every child of
// username in Redis has its token row and every child row its Redis entry.
func (e *faultEnv) checkStoresAgree(t *testing.T, username string) {
	t.Helper()
	inRedis := e.redisChildKeys(t, username)
	var inDB []string
	err := e.db.SelectContext(context.Background(), &inDB,
		`SELECT token FROM token WHERE username = $1 AND token_type <> 'session'`, username)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range inRedis {
		if !slices.Contains(inDB, k) {
			t.Errorf("child %s is in Redis but has no row in PostgreSQL (an orphan)", k)
		}
	}
	for _, k := range inDB {
		if !slices.Contains(inRedis, k) {
			t.Errorf("child %s has a row in PostgreSQL but is not in Redis", k)
		}
	}
}

// redisChildKeys scans Redis for the children of username that this
// environment's secret can open, reading values in batches.
func (e *faultEnv) redisChildKeys(t *testing.T, username string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := e.raw.Scan(ctx, 0, "token:*", 1000).Iterator()
	batch := make([]string, 0, 500)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		values, err := e.raw.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			s, ok := v.(string)
			if !ok {
				continue // expired between SCAN and MGET
			}
			plain := e.box.Open([]byte(s))
			if plain == nil {
				continue // another test's secret
			}
			var data struct {
				Username  string `json:"username"`
				TokenType string `json:"token_type"`
			}
			if err := json.Unmarshal(plain, &data); err != nil {
				t.Fatalf("token data of %s: %v", batch[i], err)
			}
			if data.Username == username && data.TokenType != string(domain.TokenTypeSession) {
				keys = append(keys, strings.TrimPrefix(batch[i], "token:"))
			}
		}
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return keys
}

// removeOrphans deletes whatever children of username remain in Redis,
// which removeUser, working from the database rows, would miss.
func (e *faultEnv) removeOrphans(t *testing.T, username string) {
	t.Helper()
	for _, k := range e.redisChildKeys(t, username) {
		_ = e.raw.Del(context.Background(), "token:"+k).Err()
	}
}
