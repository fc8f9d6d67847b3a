package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// TestEndToEndWithRedisAndPostgres runs the binary as an operator would:
// migrate, mint-session, serve, then delegation over HTTP, checking what
// lands in Redis and PostgreSQL, and finally SIGTERM during a burst of
// requests, every one of which must still be answered.
func TestEndToEndWithRedisAndPostgres(t *testing.T) {
	redisURL, databaseURL := integration.RedisURL(t), integration.DatabaseURL(t)
	env := []string{
		envRedisURL + "=" + redisURL,
		envDatabaseURL + "=" + databaseURL,
		envSessionSecret + "=" + newSessionSecret(t),
	}
	rdb, db := openRedis(t, redisURL), openDatabase(t, databaseURL)

	for range 2 { // the second run shows it is idempotent
		if stdout, stderr, code := runBinary(t, env, "migrate"); code != exitOK {
			t.Fatalf("migrate exited with %d: %s%s", code, stdout, stderr)
		}
	}
	user := "e2e-" + strings.ToLower(randomSuffix(t))
	stdout, stderr, code := runBinary(t, env, "mint-session", "--user", user,
		"--scope", "read:all,user:token", "--scope", "exec:notebook", "--lifetime", "1h")
	if code != exitOK {
		t.Fatalf("mint-session exited with %d: %s", code, stderr)
	}
	parent, err := domain.ParseToken(strings.TrimSuffix(stdout, "\n"))
	if err != nil {
		t.Fatalf("mint-session printed %q, want only a token: %v", stdout, err)
	}
	if n := count(t, db, "SELECT count(*) FROM token_change_history WHERE token = $1 AND actor = $2 AND action = 'create'",
		parent.Key, user); n != 1 {
		t.Errorf("parent has %d history rows, want 1", n)
	}

	d := startServe(t, env, "--listen", "127.0.0.1:0", "--request-timeout", "2m")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("notebook", func(t *testing.T) {
		child := childOf(t, d.delegate(t, client, parent, "notebook=true"))
		checkChild(t, rdb, db, parent, child, "notebook", "", "exec:notebook,read:all,user:token")
	})
	t.Run("internal", func(t *testing.T) {
		child := childOf(t, d.delegate(t, client, parent, "delegate_to=e2e-portal&delegate_scope=read:all&delegate_scope=admin:token"))
		checkChild(t, rdb, db, parent, child, "internal", "e2e-portal", "read:all")
	})
	t.Run("SIGTERM during a burst", func(t *testing.T) {
		burstThenSIGTERM(t, d, client, db, parent)
	})
}

// burstThenSIGTERM sends 50 requests for one new child and holds them all
// in flight inside the daemon: the first waits for a row lock this test
// holds on the parent (the child's link to its parent needs it), the rest
// wait for the first. Once the daemon's metrics show all 50 past the cache,
// it sends SIGTERM, waits for the daemon to log that it is shutting down,
// releases the lock, and expects 50 answers of 200 with the same child.
func burstThenSIGTERM(t *testing.T, d *daemon, client *http.Client, db *sql.DB, parent domain.Token) {
	const n = 50
	ctx := context.Background()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback() })
	if _, err := lock.ExecContext(ctx, "SELECT 1 FROM token WHERE token = $1 FOR UPDATE", parent.Key); err != nil {
		t.Fatal(err)
	}

	before := internalMisses(t, d)
	type answer struct {
		status int
		token  string
		err    error
	}
	answers := make(chan answer, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet,
				d.base+"/auth/delegate?delegate_to=e2e-burst&delegate_scope=read:all", nil)
			req.Header.Set("Authorization", "Bearer "+parent.String())
			resp, err := client.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, token: resp.Header.Get("X-Auth-Request-Token")}
		}()
	}
	// Each request counts a cache miss before it waits, so this is the
	// moment all of them are in the daemon's hands.
	deadline := time.Now().Add(time.Minute)
	for got := internalMisses(t, d); got < before+n; got = internalMisses(t, d) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests reached the daemon within a minute", got-before, n)
		}
		time.Sleep(10 * time.Millisecond) // polling /metrics: there is no event to wait on
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.stderr.waitFor(t, regexp.MustCompile(`"msg":"shutting down`))
	if len(answers) != 0 {
		t.Fatal("requests were answered before the lock was released: they were not in flight at SIGTERM")
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}

	var first string
	for range n {
		a := <-answers
		switch {
		case a.err != nil:
			t.Errorf("an in-flight request failed: %v", a.err)
		case a.status != http.StatusOK:
			t.Errorf("an in-flight request got %d, want 200", a.status)
		case first == "":
			first = a.token
		case a.token != first:
			t.Error("the burst got different children, want one")
		}
	}
	d.wait(t)
	if n := count(t, db, "SELECT count(*) FROM subtoken s JOIN token t ON s.child = t.token "+
		"WHERE s.parent = $1 AND t.service = $2", parent.Key, "e2e-burst"); n != 1 {
		t.Errorf("the burst made %d children, want 1", n)
	}
}

// checkChild checks child in Redis (its key) and PostgreSQL (its row, its
// link to parent and its history entry).
func checkChild(t *testing.T, rdb *goredis.Client, db *sql.DB, parent, child domain.Token, typ, service, scopes string) {
	t.Helper()
	ctx := context.Background()
	if n, err := rdb.Exists(ctx, "token:"+child.Key).Result(); err != nil || n != 1 {
		t.Errorf("Redis key token:%s: exists %d, %v", child.Key, n, err)
	}
	var gotType, gotScopes string
	var gotService sql.NullString
	err := db.QueryRowContext(ctx, "SELECT token_type, scopes, service FROM token WHERE token = $1", child.Key).
		Scan(&gotType, &gotScopes, &gotService)
	if err != nil {
		t.Fatalf("token row of %s: %v", child.Key, err)
	}
	if gotType != typ || gotScopes != scopes || gotService.String != service {
		t.Errorf("token row = %s %q %q, want %s %q %q", gotType, gotScopes, gotService.String, typ, scopes, service)
	}
	if n := count(t, db, "SELECT count(*) FROM subtoken WHERE child = $1 AND parent = $2", child.Key, parent.Key); n != 1 {
		t.Errorf("%d subtoken rows link the child to its parent, want 1", n)
	}
	if n := count(t, db, "SELECT count(*) FROM token_change_history WHERE token = $1 AND parent = $2", child.Key, parent.Key); n != 1 {
		t.Errorf("child has %d history rows, want 1", n)
	}
}

var internalMissesLine = regexp.MustCompile(`(?m)^tokencache_cache_misses_total\{token_type="internal"\} (\d+)$`)

// internalMisses reads the daemon's count of internal cache misses.
func internalMisses(t *testing.T, d *daemon) int {
	t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := internalMissesLine.FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no internal cache misses:\n%s", body)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func openRedis(t *testing.T, url string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func openDatabase(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newSessionSecret returns a fresh Fernet key, as Python's
// Fernet.generate_key() makes: URL-safe base64 of 32 random bytes.
func newSessionSecret(t *testing.T) string {
	t.Helper()
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(key[:])
}

// randomSuffix makes names unique, so that runs can share the servers.
func randomSuffix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
