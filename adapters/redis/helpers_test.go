package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// env is one test's store and what it needs to look behind the store.
type env struct {
	store  *redis.TokenStore
	raw    goredis.UniversalClient // the same server, bypassing the store
	secret string                  // the session secret
	clock  *memory.ManualClock
	logs   *logBuffer // the store's log, as JSON lines
}

// newEnv returns a store on the integration Redis, with a fresh session
// secret, a clock stopped at the current whole second, and its log
// captured.
func newEnv(t *testing.T) *env {
	t.Helper()
	raw := newRawClient(t)
	e := &env{
		raw:    raw,
		secret: newSessionSecret(t),
		clock:  memory.NewManualClock(time.Now().UTC().Truncate(time.Second)),
		logs:   new(logBuffer),
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	store, err := redis.NewTokenStore(raw, e.secret, e.clock, logger)
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	e.store = store
	return e
}

// newRawClient connects to the integration Redis.
func newRawClient(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	client, cleanup, err := redis.NewClient(context.Background(), integration.RedisURL(tb))
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(cleanup)
	return client
}

// newSessionSecret returns a secret in the form of Python's
// Fernet.generate_key().
func newSessionSecret(tb testing.TB) string {
	tb.Helper()
	var key fernet.Key
	if err := key.Generate(); err != nil {
		tb.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(key[:])
}

// newToken returns a fresh random token, whose entry is deleted when the
// test ends.
func (e *env) newToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.raw.Del(context.Background(), "token:"+tok.Key) })
	return tok
}

// fullData is token data with every field set, expiring in an hour by the
// env's clock.
func (e *env) fullData(t *testing.T) domain.TokenData {
	t.Helper()
	now := e.clock.Now()
	return domain.TokenData{
		Token:    e.newToken(t),
		Username: "someuser",
		Type:     domain.TokenTypeInternal,
		Service:  "portal",
		Scopes:   []string{"read:all", "read:tap"},
		Created:  now,
		Expires:  now.Add(time.Hour),
		Name:     "Some User",
		Email:    "someuser@example.com",
		UID:      4123,
		GID:      4124,
		Groups:   []domain.Group{{Name: "g_users", ID: 4123}, {Name: "g_special", ID: 5000}},
	}
}

// minimalData is token data with no optional field set: it never expires.
func (e *env) minimalData(t *testing.T) domain.TokenData {
	t.Helper()
	return domain.TokenData{
		Token:    e.newToken(t),
		Username: "someuser",
		Type:     domain.TokenTypeUser,
		Scopes:   []string{},
		Created:  e.clock.Now(),
	}
}

// set writes value under the token's key, bypassing the store, for an hour.
func (e *env) set(t *testing.T, key string, value []byte) {
	t.Helper()
	if err := e.raw.Set(context.Background(), "token:"+key, value, time.Hour).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
}

// seal makes a Fernet token of plain with secret, independently of the
// store's code.
func seal(t *testing.T, secret string, plain []byte) []byte {
	t.Helper()
	key, err := fernet.DecodeKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fernet.EncryptAndSign(plain, key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// open decrypts a Fernet token with secret, independently of the store's
// code.
func open(t *testing.T, secret string, value []byte) []byte {
	t.Helper()
	key, err := fernet.DecodeKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	plain := fernet.VerifyAndDecrypt(value, 0, []*fernet.Key{key})
	if plain == nil {
		t.Fatal("stored value does not decrypt with the session secret")
	}
	return plain
}

// logBuffer collects a log that parallel subtests write to.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// containsSecret reports whether s contains secret, which must not be empty
// (every string contains "").
func containsSecret(s, secret string) bool {
	return secret != "" && strings.Contains(s, secret)
}
