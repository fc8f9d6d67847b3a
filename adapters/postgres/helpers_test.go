package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// The shared test database is migrated once per test binary; every test
// then uses its own random token keys, so tests may run in parallel.
var (
	migrateOnce sync.Once
	migrateErr  error
)

// mustOpenDB opens the shared test database, migrated, closing it when t
// ends.
func mustOpenDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db := mustOpenURL(t, integration.DatabaseURL(t))
	migrateOnce.Do(func() { migrateErr = Migrate(context.Background(), db) })
	if migrateErr != nil {
		t.Fatalf("Migrate: %v", migrateErr)
	}
	return db
}

// mustOpenURL opens the database at rawURL, closing it when t ends.
func mustOpenURL(t *testing.T, rawURL string) *sqlx.DB {
	t.Helper()
	db, cleanup, err := Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(cleanup)
	return db
}

// withParams returns rawURL with query parameters set.
func withParams(t *testing.T, rawURL string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// mustCreateScratchDB creates an empty database of its own for t, dropped
// when t ends, and returns its URL.
func mustCreateScratchDB(t *testing.T) string {
	t.Helper()
	return mustCreateScratchDBWith(t, "")
}

// mustCreateScratchDBWith is mustCreateScratchDB with options for CREATE
// DATABASE (such as an encoding).
func mustCreateScratchDBWith(t *testing.T, options string) string {
	t.Helper()
	base := integration.DatabaseURL(t)
	admin := mustOpenURL(t, base)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "tokencache_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name) + " " + options); err != nil {
		t.Fatalf("creating scratch database: %v", err)
	}
	// Registered after admin's own cleanup, so it runs before admin closes;
	// FORCE ends any connection a failed test left open.
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping scratch database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// newToken returns a fresh random token.
func newToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newLock returns a cache key no other test uses.
func newLock(t *testing.T) domain.CacheKey {
	t.Helper()
	return domain.CacheKey("pgtest\x00" + newToken(t).Key)
}

// testCreated is the creation time of test tokens. Queries in these tests
// bound expiry relative to it, so it need not be near the real clock.
var testCreated = time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC)

// sessionRecord is a parent session token created at testCreated, living
// for lifetime.
func sessionRecord(t *testing.T, lifetime time.Duration) domain.TokenRecord {
	t.Helper()
	data := domain.TokenData{
		Token:    newToken(t),
		Username: "pgtest-user",
		Type:     domain.TokenTypeSession,
		Scopes:   []string{"exec:notebook", "read:all", "user:token"},
		Created:  testCreated,
		Expires:  testCreated.Add(lifetime),
		Name:     "Test User",
		UID:      4123,
	}
	return domain.TokenRecord{Data: data, Actor: data.Username, IPAddress: "192.0.2.10"}
}

// childRecord is a child of parent made at parent's creation, living for
// lifetime.
func childRecord(t *testing.T, parent domain.TokenRecord, typ domain.TokenType, service string, scopes []string, lifetime time.Duration) domain.TokenRecord {
	t.Helper()
	data := parent.Data.Clone()
	data.Token = newToken(t)
	data.Type, data.Service, data.Scopes = typ, service, domain.CanonicalScopes(scopes)
	data.Expires = data.Created.Add(lifetime)
	return domain.TokenRecord{
		Data:      data,
		ParentKey: parent.Data.Token.Key,
		Actor:     parent.Data.Username,
		IPAddress: "2001:db8::1",
	}
}

// cleanupTokens deletes the rows of the tokens with keys when t ends.
// Deleting a token row also deletes its subtoken link (ON DELETE CASCADE).
func cleanupTokens(t *testing.T, db *sqlx.DB, keys ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, table := range []string{"token_change_history", "token"} {
			if _, err := db.Exec("DELETE FROM "+table+" WHERE token = ANY($1)", pq.Array(keys)); err != nil {
				t.Errorf("cleaning up %s: %v", table, err)
			}
		}
	})
}

// mustBegin begins a unit of work under lock, rolled back when t ends.
func mustBegin(t *testing.T, repo *TokenRepository, lock domain.CacheKey) ports.RepositoryTx {
	t.Helper()
	tx, err := repo.Begin(context.Background(), lock)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() {
		if err := tx.Rollback(context.Background()); err != nil {
			t.Errorf("Rollback: %v", err)
		}
	})
	return tx
}

// mustAdd adds recs in one committed unit of work and deletes them when t
// ends.
func mustAdd(t *testing.T, db *sqlx.DB, recs ...domain.TokenRecord) {
	t.Helper()
	keys := make([]string, len(recs))
	for i, rec := range recs {
		keys[i] = rec.Data.Token.Key
	}
	cleanupTokens(t, db, keys...)
	ctx := context.Background()
	tx := mustBegin(t, NewTokenRepository(db, nil), newLock(t))
	for _, rec := range recs {
		if err := tx.AddToken(ctx, rec); err != nil {
			t.Fatalf("AddToken: %v", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// mustFind looks up q in a unit of work of its own.
func mustFind(t *testing.T, repo *TokenRepository, q domain.ChildQuery) (string, error) {
	t.Helper()
	tx := mustBegin(t, repo, newLock(t))
	return tx.FindChild(context.Background(), q)
}

// rowJSON returns the row of table whose token column is key as JSON
// (PostgreSQL's canonical jsonb text, keys sorted), without the columns
// in omit, or "" when there is no such row.
func rowJSON(t *testing.T, db *sqlx.DB, table, key string, omit ...string) string {
	t.Helper()
	keyColumn := "token"
	if table == "subtoken" {
		keyColumn = "child"
	}
	if omit == nil {
		omit = []string{} // pq.Array(nil) is NULL, and jsonb - NULL is NULL
	}
	var got []string
	query := "SELECT (to_jsonb(r) - $2::text[])::text FROM " + table + " r WHERE r." + keyColumn + " = $1"
	if err := db.Select(&got, query, key, pq.Array(omit)); err != nil {
		t.Fatalf("reading %s row of %s: %v", table, key, err)
	}
	switch len(got) {
	case 0:
		return ""
	case 1:
		return got[0]
	}
	t.Fatalf("%d %s rows for %s, want at most 1", len(got), table, key)
	return ""
}

// jsonEqual reports whether two JSON objects are equal, whatever the order
// of their keys; "" (no row) equals only "".
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w map[string]any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("parsing %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("parsing %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// waitForLockWaiter returns once some session waits for the advisory lock
// of lock, so a test knows a Begin is blocked rather than merely started.
func waitForLockWaiter(t *testing.T, db *sqlx.DB, lock domain.CacheKey) {
	t.Helper()
	waitUntil(t, "a session waits for the lock", func() bool { return advisoryLocks(t, db, lock, false) > 0 })
}

// lockHeld reports whether some session holds the advisory lock of lock.
func lockHeld(t *testing.T, db *sqlx.DB, lock domain.CacheKey) bool {
	t.Helper()
	return advisoryLocks(t, db, lock, true) > 0
}

// advisoryLocks counts the advisory locks of lock in db's database that
// are granted, or that sessions wait for.
func advisoryLocks(t *testing.T, db *sqlx.DB, lock domain.CacheKey, granted bool) int {
	t.Helper()
	// PostgreSQL shows a bigint advisory key as its high half in classid
	// and its low half in objid, with objsubid 1.
	id := uint64(lockID(lock))
	const query = `
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND granted = $3 AND objsubid = 1
  AND classid::bigint = $1 AND objid::bigint = $2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
	var n int
	if err := db.Get(&n, query, int64(id>>32), int64(id&0xffffffff), granted); err != nil {
		t.Fatalf("reading pg_locks: %v", err)
	}
	return n
}

// waitUntil returns once cond holds, polling for up to 10 seconds, for
// what happens on the server or in database/sql's own goroutines.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}
