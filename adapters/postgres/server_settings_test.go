package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/internal/integration"
)

// warmPool leaves n connections of db idle in its pool.
func warmPool(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// createParent adds a new parent's rows in one unit of work under a lock of
// its own, as a creation does, and deletes them when t ends.
func createParent(t *testing.T, repo *TokenRepository, admin *sqlx.DB) error {
	t.Helper()
	ctx := context.Background()
	rec := sessionRecord(t, time.Hour)
	cleanupTokens(t, admin, rec.Data.Token.Key)
	tx, err := repo.Begin(ctx, newLock(t))
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.AddToken(ctx, rec); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// A session the server ended while it sat idle in the pool (a restart or
// failover in a quiet spell, pg_terminate_backend, idle_session_timeout)
// costs no unit of work: a transaction sends its BEGIN with its first
// statement, which database/sql does not retry on another connection.
func TestSessionsTheServerEndedWhileIdleFailNoWork(t *testing.T) {
	admin := mustOpenDB(t)
	t.Run("terminated", func(t *testing.T) {
		const n = 4
		name := fmt.Sprintf("tokencache-ended-%d", time.Now().UnixNano())
		db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), map[string]string{"application_name": name}))
		repo := NewTokenRepository(db, nil)
		warmPool(t, db, n)
		var ended int
		if err := admin.Get(&ended, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, name); err != nil {
			t.Fatal(err)
		}
		if ended != n {
			t.Fatalf("%d sessions ended, want the %d idle in the pool", ended, n)
		}
		waitUntil(t, "the sessions to end", func() bool {
			var left int
			_ = admin.Get(&left, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name)
			return left == 0
		})
		for i := range n {
			if err := createParent(t, repo, admin); err != nil {
				t.Errorf("unit of work %d of %d after the idle sessions ended: %v", i+1, n, err)
			}
		}
	})
	t.Run("idle_session_timeout", func(t *testing.T) {
		db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), map[string]string{"idle_session_timeout": "200"}))
		repo := NewTokenRepository(db, nil)
		for i := range 3 {
			if err := createParent(t, repo, admin); err != nil {
				t.Errorf("unit of work %d after a pause past idle_session_timeout: %v", i+1, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// A database or role an operator made read-only (default_transaction_read_only)
// is not written to, as Gafaelfawr's plain BEGIN does not write to it.
func TestDefaultTransactionReadOnlyIsHonoured(t *testing.T) {
	admin := mustOpenDB(t)
	db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), map[string]string{"default_transaction_read_only": "on"}))
	if err := createParent(t, NewTokenRepository(db, nil), admin); err == nil {
		t.Error("a token was written to a database whose default_transaction_read_only is on")
	}
}

// A setting the URL makes wins over the session's own, however the URL
// spells its name: PostgreSQL reads names without regard to case, and in
// options with "-" for "_" too.
func TestURLSettingsWinWhateverTheirSpelling(t *testing.T) {
	mustOpenDB(t)
	for _, tt := range []struct {
		params     map[string]string
		name, want string
	}{
		{map[string]string{"options": "-c plan-cache-mode=auto"}, "plan_cache_mode", "auto"},
		{map[string]string{"options": "-c Plan_Cache_Mode=auto"}, "plan_cache_mode", "auto"},
		{map[string]string{"options": "--plan_cache_mode=auto"}, "plan_cache_mode", "auto"},
		{map[string]string{"Plan_Cache_Mode": "auto"}, "plan_cache_mode", "auto"},
		{map[string]string{"options": "-c idle-in-transaction-session-timeout=7000"}, "idle_in_transaction_session_timeout", "7s"},
		{map[string]string{"IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "7000"}, "idle_in_transaction_session_timeout", "7s"},
	} {
		t.Run(fmt.Sprint(tt.params), func(t *testing.T) {
			db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), tt.params))
			var got string
			if err := db.Get(&got, "SHOW "+tt.name); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s = %s, want the URL's %s", tt.name, got, tt.want)
			}
		})
	}
}
