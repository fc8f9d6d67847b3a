package postgres

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

func TestBeginWaitsForTheSameLock(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	lock := newLock(t)
	first := mustBegin(t, repo, lock)

	// While first holds the lock, a Begin that may wait only briefly fails.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if tx, err := repo.Begin(short, lock); err == nil {
		_ = tx.Rollback(ctx)
		t.Fatal("second Begin on a held lock returned at once")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Begin = %v, want context.DeadlineExceeded", err)
	}

	// A patient Begin returns only after first commits.
	committing := make(chan struct{})
	type result struct {
		tx           ports.RepositoryTx
		err          error
		beforeCommit bool
	}
	got := make(chan result, 1)
	go func() {
		tx, err := repo.Begin(ctx, lock)
		r := result{tx: tx, err: err}
		select {
		case <-committing:
		default:
			r.beforeCommit = true
		}
		got <- r
	}()
	waitForLockWaiter(t, db, lock)
	close(committing)
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("Begin after the holder committed: %v", r.err)
	}
	defer func() { _ = r.tx.Rollback(ctx) }()
	if r.beforeCommit {
		t.Fatal("second Begin returned before the holder committed")
	}
}

func TestBeginOnDifferentLocksDoesNotWait(t *testing.T) {
	t.Parallel()
	repo := NewTokenRepository(mustOpenDB(t), nil)
	mustBegin(t, repo, newLock(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := repo.Begin(ctx, newLock(t))
	if err != nil {
		t.Fatalf("Begin on another lock: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBeginCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	lock := newLock(t)
	mustBegin(t, repo, lock)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan error, 1)
	go func() {
		tx, err := repo.Begin(ctx, lock)
		if err == nil {
			_ = tx.Rollback(context.Background())
		}
		got <- err
	}()
	waitForLockWaiter(t, db, lock)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Begin cancelled while waiting = %v, want context.Canceled", err)
	}
}

func TestBeginReleasesLockOnRollback(t *testing.T) {
	t.Parallel()
	repo := NewTokenRepository(mustOpenDB(t), nil)
	ctx := context.Background()
	lock := newLock(t)
	first, err := repo.Begin(ctx, lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	second, err := repo.Begin(waitCtx, lock)
	if err != nil {
		t.Fatalf("Begin after Rollback: %v", err)
	}
	if err := second.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLockIDMatchesItsDefinition(t *testing.T) {
	t.Parallel()
	// Every replica, whatever its version, must map a key to the same
	// lock, so the mapping is checked against an independent computation
	// of its definition in SQL, which an operator can also use to find a
	// key's lock in pg_locks.
	db := mustOpenDB(t)
	const query = `SELECT ('x' || left(encode(sha256($1::bytea), 'hex'), 16))::bit(64)::bigint`
	for _, key := range []domain.CacheKey{"", "notebook\x00key\x001764321600\x00", newLock(t), migrationLock} {
		var want int64
		if err := db.Get(&want, query, []byte(key)); err != nil {
			t.Fatal(err)
		}
		if got := lockID(key); got != want {
			t.Errorf("lockID(%q) = %d, want %d", key, got, want)
		}
	}
}

// A unit of work that waited for the lock sees the child that the holder
// committed while it waited: its lookup runs after the lock is taken, in a
// statement of its own, whether in a message of its own (Begin) or in the
// lock's message (BeginDeferred). (In one statement with the lock, the
// lookup would read the database as it was when the statement began,
// before the holder's commit, and a second replica would make the child
// again.) It does so whatever the server's default isolation level: under
// repeatable read or serializable, the whole transaction would read the
// database as it was when the lock statement began.
func TestLockWaiterSeesWhatTheHolderCommitted(t *testing.T) {
	t.Parallel()
	for _, isolation := range []string{"", "read committed", "repeatable read", "serializable"} {
		t.Run("default_transaction_isolation="+isolation, func(t *testing.T) {
			t.Parallel()
			url := integration.DatabaseURL(t)
			if isolation != "" {
				url = withParams(t, url, map[string]string{"default_transaction_isolation": isolation})
			}
			db := mustOpenURL(t, url)
			mustOpenDB(t) // migrated
			for _, w := range lockWaiters {
				t.Run(w.name, func(t *testing.T) { lockWaiterSeesWhatTheHolderCommitted(t, db, w) })
			}
		})
	}
}

// lockWaiter is how a unit of work waits for a lock and looks for a child:
// the lookup runs after the lock is taken in its own statement (Begin),
// or in one message with it (BeginDeferred).
type lockWaiter struct {
	name  string
	begin func(*TokenRepository, context.Context, domain.CacheKey) (ports.RepositoryTx, error)
	find  func(ports.RepositoryTx, context.Context, domain.ChildQuery) (string, error)
}

var lockWaiters = []lockWaiter{
	{"Begin/FindChild", (*TokenRepository).Begin, ports.RepositoryTx.FindChild},
	{"BeginDeferred/FindChild", (*TokenRepository).BeginDeferred, ports.RepositoryTx.FindChild},
	{"BeginDeferred/LookUpChild", (*TokenRepository).BeginDeferred, func(tx ports.RepositoryTx, ctx context.Context, q domain.ChildQuery) (string, error) {
		found, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1})
		return found.Key, err
	}},
}

func lockWaiterSeesWhatTheHolderCommitted(t *testing.T, db *sqlx.DB, w lockWaiter) {
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	parent := sessionRecord(t, 24*time.Hour)
	mustAdd(t, db, parent)
	child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	cleanupTokens(t, db, child.Data.Token.Key)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	lock := newLock(t)

	holder := mustBegin(t, repo, lock)
	type found struct {
		key string
		err error
	}
	got := make(chan found, 1)
	go func() {
		tx, err := w.begin(repo, ctx, lock)
		if err != nil {
			got <- found{err: err}
			return
		}
		defer func() { _ = tx.Rollback(ctx) }()
		key, err := w.find(tx, ctx, q)
		got <- found{key, err}
	}()
	waitForLockWaiter(t, db, lock)
	if err := holder.AddToken(ctx, child); err != nil {
		t.Fatal(err)
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.err != nil || r.key != child.Data.Token.Key {
		t.Fatalf("the waiter's lookup = %q, %v; want the holder's child %q", r.key, r.err, child.Data.Token.Key)
	}
}

// lockStatement takes the advisory lock of any id, the extremes included,
// with no arguments.
func TestLockStatementTakesTheLock(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	ctx := context.Background()
	for _, id := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, lockID(newLock(t))} {
		t.Run(strconv.FormatInt(id, 10), func(t *testing.T) {
			tx := mustBeginTx(t, db)
			if _, err := tx.ExecContext(ctx, lockStatement(id)); err != nil {
				t.Fatalf("%s: %v", lockStatement(id), err)
			}
			// PostgreSQL shows a bigint advisory key as its high half in
			// classid and its low half in objid, with objsubid 1.
			var held []struct {
				High int64 `db:"classid"`
				Low  int64 `db:"objid"`
			}
			if err := tx.SelectContext(ctx, &held, `SELECT classid::bigint, objid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND pid = pg_backend_pid()`); err != nil {
				t.Fatal(err)
			}
			u := uint64(id)
			if len(held) != 1 || uint64(held[0].High) != u>>32 || uint64(held[0].Low) != u&0xffffffff {
				t.Errorf("advisory locks held: %+v, want the one of %d (%d, %d)", held, id, u>>32, u&0xffffffff)
			}
		})
	}
}
