package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tokencache/tokencache/internal/integration"
)

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "s3cretPW"
	tests := []struct {
		name string
		dsn  string
	}{
		{"unparsable URL", "postgres://user:" + secret + "%zz@127.0.0.1/db"},
		{"bad port", "postgres://user:" + secret + "@127.0.0.1:notaport/db"},
		{"wrong scheme", "mysql://user:" + secret + "@127.0.0.1/db"},
		{"bad parameter", "postgres://user:" + secret + "@127.0.0.1/db?sslmode=bogus"},
		{"password parameter", "postgres://127.0.0.1:1/db?sslmode=disable&password=" + secret},
		{"key=value form", "host=127.0.0.1 port=1 password=" + secret + " sslmode"},
		{"unreachable", "postgres://user:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5"},
		// Mistyped URLs, which lib/pq reads as key=value pairs and whose
		// parse errors quote them.
		{"one slash after the scheme", "postgres:/user:" + secret + "@127.0.0.1/db"},
		{"no scheme", "user:" + secret + "@127.0.0.1:5432/db"},
		{"no colon after the scheme", "postgres//user:" + secret + "@127.0.0.1/db"},
		{"key=value with a URL value", "host=/var/run/postgresql user=u password=" + secret + " " + secret + " sslrootcert=https://x"},
		{"password option with an ampersand", "postgres://127.0.0.1:1/db?sslmode=disable&password=ab&" + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, cleanup, err := Open(context.Background(), tt.dsn)
			if err == nil {
				cleanup()
				t.Fatal("Open succeeded")
			}
			if db != nil || cleanup != nil {
				t.Errorf("Open returned a database or cleanup along with error %v", err)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("error chain reveals the password: %v", e)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestRedactWithholdsMisplacedCredentials: a password holding an unescaped
// "/" ends the URL's host there, and lib/pq takes the rest for the
// database name, which the server's "does not exist" quotes.
func TestRedactWithholdsMisplacedCredentials(t *testing.T) {
	t.Parallel()
	const secret = "s3cretPW"
	for _, dsn := range []string{
		"postgres://:/" + secret + "@db.example/gafaelfawr",
		"postgres://:5432/" + secret + "@db.example/gafaelfawr",
		"postgresql://u:pw?" + secret + "@db.example/gafaelfawr",
	} {
		server := errors.New(`pq: database "` + secret + `@db.example/gafaelfawr" does not exist (3D000)`)
		if err := redact(server, dsn, ""); strings.Contains(err.Error(), secret) {
			t.Errorf("redact(…, %q) = %v, which quotes the password", dsn, err)
		}
	}
}

// TestRedactMasksThePasswordLibPQFound: a key=value password, or one from
// the environment, is masked too.
func TestRedactMasksThePasswordLibPQFound(t *testing.T) {
	t.Parallel()
	const secret = "s3cret PW"
	err := redact(errors.New(`pq: password "`+secret+`" refused`), "host=db user=u password='"+secret+"'", secret)
	if strings.Contains(err.Error(), secret) {
		t.Errorf("redact = %v, which quotes the password", err)
	}
	plain := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	if got := redact(plain, "host=127.0.0.1 port=1 password=x", "x"); got != plain {
		t.Errorf("redact changed an error without the password: %v", got)
	}
}

func TestOpenAndCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, cleanup, err := Open(ctx, integration.DatabaseURL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	cleanup()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("database still usable after cleanup")
	}
}

// TestOpenBoundsIdleTransactions: the server ends a session idle in a
// transaction past the bound, rolling it back and releasing its locks,
// whether or not its client is still there.
func TestOpenBoundsIdleTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	show := func(db *sqlx.DB) string {
		var v string
		if err := db.GetContext(ctx, &v, "SHOW idle_in_transaction_session_timeout"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	url := integration.DatabaseURL(t)

	db, cleanup, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if got := show(db); got != "1min" {
		t.Errorf("by default the bound is %s, want 1min", got)
	}

	db, cleanup, err = Open(ctx, url, IdleInTransactionTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if got := show(db); got != "200ms" {
		t.Errorf("the bound is %s, want 200ms", got)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := tx.GetContext(ctx, &pid, "SELECT pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive := 1; alive > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session idle in its transaction still lives after 10s")
		}
		if err := db.GetContext(ctx, &alive, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Error("the transaction the server ended still runs statements")
	}
	_ = tx.Rollback()

	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	// The URL's own bound wins, in either form.
	for form, query := range map[string]string{
		"parameter": "idle_in_transaction_session_timeout=7000",
		"options":   "options=-c%20idle_in_transaction_session_timeout%3D7000",
	} {
		db, cleanup, err = Open(ctx, url+sep+query, IdleInTransactionTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		if got := show(db); got != "7s" {
			t.Errorf("with the URL's own bound as %s it is %s, want 7s", form, got)
		}
	}

	// Beyond PostgreSQL's largest (2^31 - 1 ms, some 24.8 days), the
	// largest.
	db, cleanup, err = Open(ctx, url, IdleInTransactionTimeout(30*24*time.Hour))
	if err != nil {
		t.Fatalf("Open with a bound of 30 days: %v", err)
	}
	defer cleanup()
	if got := show(db); got != "2147483647ms" {
		t.Errorf("a bound of 30 days is %s, want PostgreSQL's largest, 2147483647ms", got)
	}
}

// TestOpenSendsNoStartupParameterOfItsOwn: the session's settings go as a
// statement once connected, not in the startup message, which a pooler
// such as PgBouncer refuses for parameters it does not know.
func TestOpenSendsNoStartupParameterOfItsOwn(t *testing.T) {
	t.Parallel()
	cfg, err := pq.NewConfig(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	before := len(cfg.Runtime)
	setup := sessionSetup(&cfg, time.Minute, clientCheckInterval)
	if len(cfg.Runtime) != before {
		t.Errorf("runtime parameters %v: some added to the startup message", cfg.Runtime)
	}
	if !strings.Contains(setup, "idle_in_transaction_session_timeout") || !strings.Contains(setup, "plan_cache_mode") {
		t.Errorf("session set-up %q does not set both", setup)
	}
}

// TestOpenEndsStatementsWhoseClientLeft: a statement waiting for a lock
// whose client gave up and closed the connection ends on the server too,
// rather than waiting on with its transaction's locks until it is granted.
func TestOpenEndsStatementsWhoseClientLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, cleanup, err := Open(ctx, integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	const lock = 7_424_242_424
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = holder.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lock) }()

	waiter, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := waiter.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// In a transaction, as the repository waits, whose context ends
	// while the statement waits.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	tx, err := waiter.BeginTx(short, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(short, "SELECT pg_advisory_lock($1)", lock); err == nil {
		t.Fatal("took a lock another session holds")
	}
	_ = tx.Rollback()
	_ = waiter.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive bool
		if err := db.GetContext(ctx, &alive, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still runs the statement 10s after its client left")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConnectGoesOnWithoutTheClientCheckTheServerRefuses: PostgreSQL on a
// platform without the check (macOS, Windows) refuses any interval but 0
// ("client_connection_check_interval must be set to 0 on this platform");
// its connections go on without the check rather than fail. A server here
// is given an interval out of range, which it refuses alike.
func TestConnectGoesOnWithoutTheClientCheckTheServerRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pq.NewConfig(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(newDialer())
	c := newConnector(pc, &cfg, time.Minute, "-1")
	for i := range 3 { // the first learns the refusal; the others send the check no more
		dc, err := c.Connect(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conn := dc.(*conn)
		rows, err := conn.pq.QueryContext(ctx, "SHOW idle_in_transaction_session_timeout", nil)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]driver.Value, 1)
		if err := rows.Next(got); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		if got[0] != "1min" {
			t.Errorf("connection %d: idle_in_transaction_session_timeout %v, want the rest of the set-up, 1min", i, got[0])
		}
		_ = dc.Close()
		if !c.checkRefused.Load() {
			t.Fatalf("connection %d: the refusal was not kept", i)
		}
	}
	// Only a refusal of the check is taken for one.
	c = &connector{pq: pc, setup: "SELECT set_config('idle_in_transaction_session_timeout', '-1', false)"}
	if dc, err := c.Connect(ctx); err == nil {
		_ = dc.Close()
		t.Error("a set-up the server refuses for another reason than the check connected")
	}
}
