package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tokencache/tokencache/internal/integration"
)

// A transaction sends BEGIN with its first statement, in the same message
// when that statement has no arguments, and sends nothing at all if it
// runs none.
func TestTransactionSendsBeginWithItsFirstStatement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(ctx context.Context, tx *sqlx.Tx) error
		end  func(tx *sqlx.Tx) error
		want int
	}{
		{"StatementWithoutArguments", func(ctx context.Context, tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, "SELECT 1")
			return err
		}, (*sqlx.Tx).Commit, 2},
		{"QueryWithoutArguments", func(ctx context.Context, tx *sqlx.Tx) error {
			var got []int
			if err := tx.SelectContext(ctx, &got, "SELECT generate_series(1, 3)"); err != nil {
				return err
			}
			if len(got) != 3 {
				return errors.New("the query after BEGIN returned the wrong rows")
			}
			return nil
		}, (*sqlx.Tx).Commit, 2},
		{"StatementWithArguments", func(ctx context.Context, tx *sqlx.Tx) error {
			var n int
			return tx.GetContext(ctx, &n, "SELECT $1::int", 7)
		}, (*sqlx.Tx).Commit, 3},
		{"NothingThenCommit", func(context.Context, *sqlx.Tx) error { return nil }, (*sqlx.Tx).Commit, 0},
		{"NothingThenRollback", func(context.Context, *sqlx.Tx) error { return nil }, (*sqlx.Tx).Rollback, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, proxy := openCounted(t, MaxConnections(1))
			ctx := context.Background()
			transaction := func() {
				t.Helper()
				tx, err := db.BeginTxx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tt.run(ctx, tx); err != nil {
					t.Fatal(err)
				}
				if err := tt.end(tx); err != nil {
					t.Fatal(err)
				}
			}
			transaction() // prepares the statement with arguments
			before := proxy.Counts()
			transaction()
			if got := proxy.Counts().Sub(before); got.RoundTrips() != tt.want {
				t.Errorf("%v, want %d round trips", got, tt.want)
			}
		})
	}
}

// However BEGIN is sent, the statements of a transaction run in one
// transaction, and the connection leaves it when it commits, rolls back or
// fails, so that database/sql reuses it outside any transaction. A
// transaction that ends before sending anything keeps its connection, even
// when its context ends.
func TestDeferredBeginKeepsTransactions(t *testing.T) {
	t.Parallel()
	mustOpenDB(t) // migrates
	// One connection, so that each step reuses the one before's.
	db, cleanup, err := Open(context.Background(), integration.DatabaseURL(t), MaxConnections(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	ctx := context.Background()
	pid := backendPID(t, db)
	sameTransaction := func(t *testing.T, tx *sqlx.Tx, argsFirst bool) {
		t.Helper()
		var a, b int64
		first, second := "SELECT txid_current() + $1", "SELECT txid_current()"
		if !argsFirst {
			first, second = second, first
		}
		if err := tx.GetContext(ctx, &a, first, whenArgs(first)...); err != nil {
			t.Fatal(err)
		}
		if err := tx.GetContext(ctx, &b, second, whenArgs(second)...); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("the statements ran in transactions %d and %d, want one", a, b)
		}
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"FirstStatementWithoutArguments", func(t *testing.T) {
			tx := mustBeginTx(t, db)
			sameTransaction(t, tx, false)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}},
		{"FirstStatementWithArguments", func(t *testing.T) {
			tx := mustBeginTx(t, db)
			sameTransaction(t, tx, true)
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}},
		{"FailedFirstStatement", func(t *testing.T) {
			tx := mustBeginTx(t, db)
			if _, err := tx.ExecContext(ctx, "SELECT 1/0"); err == nil {
				t.Fatal("dividing by zero succeeded")
			}
			// The failure aborted the transaction that BEGIN opened.
			if _, err := tx.ExecContext(ctx, "SELECT 1"); err == nil || !strings.Contains(err.Error(), "current transaction is aborted") {
				t.Fatalf("a statement after the failed one = %v, want the aborted transaction's error", err)
			}
			if err := tx.Commit(); !errors.Is(err, pq.ErrInFailedTransaction) {
				t.Fatalf("Commit = %v, want pq.ErrInFailedTransaction", err)
			}
		}},
		{"NothingSentThenContextEnded", func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			if _, err := db.BeginTxx(ctx, nil); err != nil {
				t.Fatal(err)
			}
			cancel() // database/sql rolls back on its own
			waitUntil(t, "the connection is back in the pool", func() bool { return db.Stats().InUse == 0 })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t)
			if inTransaction(t, db) {
				t.Error("the connection is still in a transaction")
			}
			if got := backendPID(t, db); got != pid {
				t.Errorf("the connection was replaced (backend %d, was %d), want it kept", got, pid)
			}
		})
	}
}

// whenArgs returns the argument of query if it has one.
func whenArgs(query string) []any {
	if strings.Contains(query, "$1") {
		return []any{0}
	}
	return nil
}

func mustBeginTx(t *testing.T, db *sqlx.DB) *sqlx.Tx {
	t.Helper()
	tx, err := db.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// backendPID returns the process ID of the server process serving db's
// next statement: with one connection, it changes only when the connection
// does.
func backendPID(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var pid int
	if err := db.Get(&pid, "SELECT pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	return pid
}

// inTransaction reports whether db's next statement would run inside an
// open transaction block: SAVEPOINT fails outside one.
func inTransaction(t *testing.T, db *sqlx.DB) bool {
	t.Helper()
	_, err := db.Exec("SAVEPOINT probe")
	if err == nil {
		return true
	}
	if !strings.Contains(err.Error(), "can only be used in transaction blocks") {
		t.Fatalf("SAVEPOINT: %v", err)
	}
	return false
}
