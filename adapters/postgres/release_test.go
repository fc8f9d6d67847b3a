package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// Every way a unit of work can end releases its advisory lock, at once
// when the caller ends it and soon after when its context does, and
// returns its connection to the pool.
func TestUnitOfWorkReleasesLockAndConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, db *sqlx.DB, tx *repoTx, cancel context.CancelFunc)
	}{
		{"commit", func(t *testing.T, _ *sqlx.DB, tx *repoTx, _ context.CancelFunc) {
			if err := tx.Commit(context.Background()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}},
		{"rollback", func(t *testing.T, _ *sqlx.DB, tx *repoTx, _ context.CancelFunc) {
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
		}},
		{"failed AddToken, then rollback", func(t *testing.T, db *sqlx.DB, tx *repoTx, _ context.CancelFunc) {
			orphan := childRecord(t, sessionRecord(t, time.Hour), domain.TokenTypeNotebook, "", nil, time.Hour)
			cleanupTokens(t, db, orphan.Data.Token.Key)
			if err := tx.AddToken(context.Background(), orphan); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("AddToken with an unknown parent = %v, want ErrInvalidToken", err)
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatalf("Rollback: %v", err)
			}
		}},
		{"context ended, never rolled back", func(_ *testing.T, _ *sqlx.DB, _ *repoTx, cancel context.CancelFunc) {
			cancel()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := mustOpenDB(t)
			repo := NewTokenRepository(db, nil)
			lock := newLock(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tx, err := repo.Begin(ctx, lock)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if !lockHeld(t, db, lock) {
				t.Fatal("Begin returned without holding the lock")
			}
			tc.end(t, db, tx.(*repoTx), cancel)
			waitUntil(t, "the lock is released", func() bool { return !lockHeld(t, db, lock) })
			waitUntil(t, "the connection is back in the pool", func() bool { return db.Stats().InUse == 0 })
		})
	}
}

// A statement blocked inside a unit of work returns soon after its context
// ends, with an error that says so, and leaves no row and no lock behind.
func TestAddTokenCancelledWhileBlocked(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	parent := sessionRecord(t, 24*time.Hour)
	mustAdd(t, db, parent)
	child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	cleanupTokens(t, db, child.Data.Token.Key)

	// Another session inserts the same key and keeps its transaction open,
	// so the adapter's INSERT waits on it.
	blocker, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback() }()
	var blockerPID int
	if err := blocker.Get(&blockerPID, "SELECT pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(addToken, newCreationRow(child).args()...); err != nil {
		t.Fatalf("blocking insert: %v", err)
	}

	lock := newLock(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, err := repo.Begin(ctx, lock)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- tx.AddToken(ctx, child) }()
	waitForBlockedBy(t, db, blockerPID)
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("AddToken cancelled while blocked = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AddToken did not return within 5s of its context ending")
	}
	if err := tx.Commit(context.Background()); err == nil {
		t.Error("Commit after the context ended succeeded")
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"token", "subtoken", "token_change_history"} {
		if row := rowJSON(t, db, table, child.Data.Token.Key); row != "" {
			t.Errorf("%s row written by the cancelled unit of work: %s", table, row)
		}
	}
	waitUntil(t, "the lock is released", func() bool { return !lockHeld(t, db, lock) })
	waitUntil(t, "the connections are back in the pool", func() bool { return db.Stats().InUse == 0 })
}

// FindChild, blocked behind a session that locked the table, returns soon
// after its context ends, with an error that says so.
func TestFindChildCancelledWhileBlocked(t *testing.T) {
	t.Parallel()
	// Locking a table would stall other tests: this one has its own.
	db := mustOpenURL(t, mustCreateScratchDB(t))
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	blocker, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback() }()
	var blockerPID int
	if err := blocker.Get(&blockerPID, "SELECT pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec("LOCK TABLE subtoken IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, err := NewTokenRepository(db, nil).Begin(ctx, newLock(t))
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook}
	got := make(chan error, 1)
	go func() {
		_, err := tx.FindChild(ctx, q)
		got <- err
	}()
	waitForBlockedBy(t, db, blockerPID)
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("FindChild cancelled while blocked = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FindChild did not return within 5s of its context ending")
	}
}

// When taking the lock fails for a reason other than the context (here the
// server's lock_timeout), Begin rolls back and returns the connection.
func TestBeginFailureReturnsTheConnection(t *testing.T) {
	t.Parallel()
	holder := NewTokenRepository(mustOpenDB(t), nil)
	lock := newLock(t)
	mustBegin(t, holder, lock)

	db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), map[string]string{"lock_timeout": "50ms"}))
	tx, err := NewTokenRepository(db, nil).Begin(context.Background(), lock)
	if err == nil {
		_ = tx.Rollback(context.Background())
		t.Fatal("Begin took a lock another session holds")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Begin failed by lock_timeout = %v, which blames the context", err)
	}
	if n := db.Stats().InUse; n != 0 {
		t.Errorf("%d connections still in use after Begin failed", n)
	}
}

// waitForBlockedBy returns once some session waits for a lock that the
// session with process ID pid holds.
func waitForBlockedBy(t *testing.T, db *sqlx.DB, pid int) {
	t.Helper()
	waitUntil(t, "a session waits for the blocking one", func() bool {
		var n int
		if err := db.Get(&n, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid); err != nil {
			t.Fatalf("reading pg_stat_activity: %v", err)
		}
		return n > 0
	})
}
