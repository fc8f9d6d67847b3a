package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// realEnv is the service composed by InitializeTokenCacheService over the
// integration Redis and PostgreSQL, with a fresh session secret, plus raw
// access to both stores to look behind the service.
type realEnv struct {
	cfg   app.Config
	svc   *app.TokenCacheService
	store *redis.TokenStore // same Redis and secret as the service
	raw   goredis.UniversalClient
	db    *sqlx.DB
}

var migrateOnce sync.Once

func newRealEnv(t testing.TB) *realEnv {
	t.Helper()
	return newRealEnvWithLifetime(t, 24*time.Hour)
}

// newRealEnvWithLifetime is newRealEnv with the service's token lifetime
// set to tokenLifetime.
func newRealEnvWithLifetime(t testing.TB, tokenLifetime time.Duration) *realEnv {
	t.Helper()
	return newRealEnvFrom(t, app.Config{
		RedisURL:      integration.RedisURL(t),
		DatabaseURL:   integration.DatabaseURL(t),
		SessionSecret: newSessionSecret(t),
		TokenLifetime: tokenLifetime,
		CacheSize:     100,
	})
}

// newRealEnvFrom is the service composed from cfg, on the stores it
// names (the database migrated once per test binary), with raw access to
// both.
func newRealEnvFrom(t testing.TB, cfg app.Config) *realEnv {
	t.Helper()
	ctx := context.Background()
	db, closeDB, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	migrateOnce.Do(func() { err = postgres.Migrate(ctx, db) })
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	raw, closeRaw, err := redis.NewClient(ctx, cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRaw)
	store, err := redis.NewTokenStore(raw, cfg.SessionSecret, memory.SystemClock{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// newSessionSecret returns a fresh Fernet key, as Python's
// Fernet.generate_key() makes them.
func newSessionSecret(t testing.TB) string {
	t.Helper()
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(key[:])
}

// addParent writes a fresh session token of a unique user into both
// stores through the adapters, and removes what it can at the end.
func (e *realEnv) addParent(t testing.TB, lifetime time.Duration) domain.TokenData {
	t.Helper()
	ctx := context.Background()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := domain.TokenData{
		Token: tok, Username: "it-" + tok.Key[:8], Type: domain.TokenTypeSession,
		Scopes:  []string{"exec:notebook", "read:all", "read:tap"},
		Created: now, Expires: now.Add(lifetime),
		Name: "Integration Test", Email: "it@example.com", UID: 4123, GID: 4124,
		Groups: []domain.Group{{Name: "g_users", ID: 4124}},
	}
	if err := e.store.Store(ctx, p); err != nil {
		t.Fatal(err)
	}
	repo := postgres.NewTokenRepository(e.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tx, err := repo.Begin(ctx, domain.CacheKey("seed-"+tok.Key))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username, IPAddress: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.removeUser(p.Username) })
	return p
}

// removeUser deletes every row and Redis key of username.
func (e *realEnv) removeUser(username string) {
	ctx := context.Background()
	var keys []string
	_ = e.db.SelectContext(ctx, &keys, `SELECT token FROM token WHERE username = $1`, username)
	for _, k := range keys {
		_ = e.raw.Del(ctx, "token:"+k).Err()
	}
	_, _ = e.db.ExecContext(ctx, `DELETE FROM token_change_history WHERE username = $1`, username)
	_, _ = e.db.ExecContext(ctx, `DELETE FROM token WHERE username = $1`, username)
}

// children counts the child rows of parentKey.
func (e *realEnv) children(t testing.TB, parentKey string) int {
	t.Helper()
	var n int
	if err := e.db.GetContext(context.Background(), &n, `SELECT count(*) FROM subtoken WHERE parent = $1`, parentKey); err != nil {
		t.Fatal(err)
	}
	return n
}

// redisChildren counts the child tokens of username in Redis that this
// environment's session secret can read.
func (e *realEnv) redisChildren(t *testing.T, username string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	iter := e.raw.Scan(ctx, 0, "token:*", 1000).Iterator()
	for iter.Next(ctx) {
		data, err := e.store.GetByKey(ctx, strings.TrimPrefix(iter.Val(), "token:"))
		if err == nil && data.Username == username && data.Type != domain.TokenTypeSession {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// notebook asks the service for p's notebook token, failing t on error.
func (e *realEnv) notebook(t testing.TB, p domain.TokenData) domain.Token {
	t.Helper()
	tok, err := e.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// internal asks the service for p's internal token for service with
// scopes, failing t on error.
func (e *realEnv) internal(t testing.TB, p domain.TokenData, service string, scopes []string) domain.Token {
	t.Helper()
	tok, err := e.svc.GetInternalToken(context.Background(), p, service, scopes, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
