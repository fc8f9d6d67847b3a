package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// firstProbe is a statement that may go first with BEGIN, whose result is
// its arguments as the server read them.
var firstProbe = preparedFirst(`SELECT $1::text AS s, $2::timestamp AS ts, $3::bigint AS n, $4::boolean AS b`)

type probeRow struct {
	S  *string    `db:"s"`
	TS *time.Time `db:"ts"`
	N  *int64     `db:"n"`
	B  *bool      `db:"b"`
}

// A statement that may go first with BEGIN does so in one simple-protocol
// message, its arguments as quoted literals, and the server reads them as
// it reads them sent apart: quotes, backslashes and statement separators
// stay data, times keep their microseconds, and NULL stays NULL.
func TestFirstStatementReadsItsArgumentsAsSentApart(t *testing.T) {
	t.Parallel()
	db, proxy := openCounted(t, MaxConnections(1))
	ctx := context.Background()
	nanos := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		args []any
		// apart is set for text beyond ASCII, which goes apart from BEGIN
		// (see literals).
		apart bool
	}{
		{"Plain", []any{"plain", testCreated, int64(7), true}, false},
		{"Empty", []any{"", nanos, int64(0), false}, false},
		{"Quote", []any{"O'Brien''", nanos, int64(-1), true}, false},
		{"Backslash", []any{`back\slash\'`, nanos, int64(math.MaxInt64), true}, false},
		{"Separator", []any{`x'); DROP TABLE token; --`, nanos, int64(math.MinInt64), true}, false},
		{"DollarQuote", []any{"$$ $1 $tag$", nanos, int64(1), true}, false},
		{"Controls", []any{"\t\n\r\x7f", nanos.In(time.FixedZone("", -7*3600)), int64(2), false}, false},
		{"Unicode", []any{"ünïcødé ✓", nanos, int64(3), false}, true},
		{"Null", []any{nil, nil, nil, nil}, false},
	}
	apart := func(args []any) (probeRow, error) {
		var row probeRow
		err := db.GetContext(ctx, &row, firstProbe, args...)
		return row, err
	}
	// first runs firstProbe first in a transaction, which it rolls back,
	// and fails the test if the rollback fails.
	first := func(args []any) (probeRow, error) {
		t.Helper()
		var row probeRow
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return row, err
		}
		err = tx.GetContext(ctx, &row, firstProbe, args...)
		if rbErr := tx.Rollback(); rbErr != nil {
			t.Errorf("Rollback after the statement (%v): %v", err, rbErr)
		}
		return row, err
	}
	// Prepared both ways on the one connection.
	if _, err := apart(tests[0].args); err != nil {
		t.Fatal(err)
	}
	if _, err := first(tests[0].args); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := apart(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			before := proxy.Counts()
			got, err := first(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			// The statement went in BEGIN's message, or apart; the ROLLBACK
			// after it.
			switch c := proxy.Counts().Sub(before); {
			case tt.apart && c.Syncs == 0:
				t.Errorf("%v, want the statement sent apart from BEGIN", c)
			case !tt.apart && (c.Queries != 2 || c.Syncs != 0):
				t.Errorf("%v, want BEGIN and the statement in one Query, ROLLBACK in another", c)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("first with BEGIN the server read %s, sent apart %s", probeString(got), probeString(want))
			}
			if s, ok := tt.args[0].(string); ok && (got.S == nil || *got.S != s) {
				t.Errorf("the text came back as %s, want %q", probeString(got), s)
			}
		})
	}

	// A statement that fails after BEGIN, on an argument its parameter
	// refuses, fails as it does outside a transaction, and as its own
	// failure, not BEGIN's.
	t.Run("RefusedArgument", func(t *testing.T) {
		args := []any{"x", "not a time", int64(1), true}
		_, wantErr := apart(args)
		if wantErr == nil {
			t.Fatal("the server took a timestamp that is none")
		}
		_, err := first(args)
		// The same error, but for its position in the message.
		var got, want *pq.Error
		if !errors.As(err, &got) || !errors.As(wantErr, &want) || got.Code != want.Code {
			t.Errorf("first with BEGIN: %v, want %v", err, wantErr)
		}
		var begin *beginError
		if errors.As(err, &begin) {
			t.Errorf("the statement's failure %q is marked as BEGIN's", err)
		}
	})

	// Text the server refuses, a NUL byte or invalid UTF-8, goes apart
	// from BEGIN, and fails as it does outside a transaction: in a Query
	// message, the server would refuse the whole message, BEGIN included,
	// and the transaction's rollback would fail.
	for _, bad := range []struct{ name, text string }{{"NUL", "a\x00b"}, {"InvalidUTF8", "a\xffb"}} {
		t.Run(bad.name, func(t *testing.T) {
			args := []any{bad.text, testCreated, int64(1), true}
			_, wantErr := apart(args)
			if wantErr == nil {
				t.Fatalf("the server took %q as text", bad.text)
			}
			before := proxy.Counts()
			_, err := first(args)
			if err == nil || err.Error() != wantErr.Error() {
				t.Errorf("first with BEGIN: %v, want %v", err, wantErr)
			}
			if c := proxy.Counts().Sub(before); c.Syncs == 0 {
				t.Errorf("%v, want the statement sent apart from BEGIN", c)
			}
		})
	}
}

// probeString shows r's values, "-" for NULL.
func probeString(r probeRow) string {
	show := func(isNull bool, v func() any) string {
		if isNull {
			return "-"
		}
		return fmt.Sprintf("%#v", v())
	}
	return "[" + strings.Join([]string{
		show(r.S == nil, func() any { return *r.S }),
		show(r.TS == nil, func() any { return r.TS.Format(time.RFC3339Nano) }),
		show(r.N == nil, func() any { return *r.N }),
		show(r.B == nil, func() any { return *r.B }),
	}, " ") + "]"
}

// BeginDeferred sends nothing until the unit's first call: a unit that
// makes none never takes the lock, and the first call, a lookup or
// another, takes it before it returns.
func TestBeginDeferredTakesTheLockWithItsFirstCall(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	parent := sessionRecord(t, 24*time.Hour)
	mustAdd(t, db, parent)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	tests := []struct {
		name  string
		first func(ports.RepositoryTx) error
	}{
		{"FindChild", func(tx ports.RepositoryTx) error {
			if _, err := tx.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
				return err
			}
			return nil
		}},
		{"LookUpChild", func(tx ports.RepositoryTx) error {
			_, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1})
			return err
		}},
		{"AddToken", func(tx ports.RepositoryTx) error {
			child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
			return tx.AddToken(ctx, child)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock := newLock(t)
			tx, err := repo.BeginDeferred(ctx, lock)
			if err != nil {
				t.Fatal(err)
			}
			if lockHeld(t, db, lock) {
				t.Error("the lock was taken before the first call")
			}
			if err := tt.first(tx); err != nil {
				t.Fatal(err)
			}
			if !lockHeld(t, db, lock) {
				t.Error("the lock is not held after the first call")
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if lockHeld(t, db, lock) {
				t.Error("the lock is still held after Rollback")
			}
		})
	}
	t.Run("NoCall", func(t *testing.T) {
		lock := newLock(t)
		tx, err := repo.BeginDeferred(ctx, lock)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if lockHeld(t, db, lock) {
			t.Error("a unit that made no call took the lock")
		}
	})
}

// A deferred lock is waited for by the first call, until the call's own
// context ends: the call then fails with the context's error, wrapping
// ports.ErrLockNotTaken, and says which lock it waited for, and the unit
// holds nothing.
func TestBeginDeferredWaitsInItsFirstCall(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	lock := newLock(t)
	holder := mustBegin(t, repo, lock)
	q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}

	for _, tt := range []struct {
		name string
		end  func(cancel context.CancelFunc)
		want error
	}{
		{"Deadline", func(context.CancelFunc) {}, context.DeadlineExceeded},
		{"Cancelled", func(cancel context.CancelFunc) {
			waitForLockWaiter(t, db, lock)
			cancel()
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := repo.BeginDeferred(ctx, lock)
			if err != nil {
				t.Fatal(err)
			}
			callCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			got := make(chan error, 1)
			go func() {
				_, err := tx.FindChild(callCtx, q)
				got <- err
			}()
			tt.end(cancel)
			err = <-got
			if !errors.Is(err, tt.want) {
				t.Fatalf("FindChild waiting for a held lock = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, ports.ErrLockNotTaken) || !strings.Contains(err.Error(), "waiting for repository lock") {
				t.Errorf("FindChild's error %q does not say it waited for the lock", err)
			}
			// The interrupted connection is closed, not rolled back, and
			// its session with it.
			_ = tx.Rollback(ctx)
			waitUntil(t, "the waiter is gone", func() bool { return advisoryLocks(t, db, lock, false) == 0 })
			waitUntil(t, "only the holder's connection is in use", func() bool { return db.Stats().InUse == 1 })
		})
	}

	// Once the holder lets go, a deferred unit takes the lock.
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err := repo.BeginDeferred(ctx, lock)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("FindChild after the holder let go = %v, want ErrNotFound", err)
	}
	if !lockHeld(t, db, lock) {
		t.Error("the lock is not held")
	}
}

// A lookup prepared by name that the session no longer has (DEALLOCATE,
// as a pooler's DISCARD ALL does) fails once, and is prepared again by
// the next unit of work.
func TestFirstStatementPreparedAgainWhenGone(t *testing.T) {
	t.Parallel()
	db, proxy := openCounted(t, MaxConnections(1))
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	find := func() error {
		tx, err := repo.BeginDeferred(ctx, newLock(t))
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
			return err
		}
		return nil
	}
	if err := find(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	err := find()
	if pq.As(err, pqerror.InvalidSQLStatementName) == nil {
		t.Fatalf("the lookup whose statement is gone = %v, want the server's invalid_sql_statement_name", err)
	}
	// The lock was granted: the lookup failed, not the lock.
	if errors.Is(err, ports.ErrLockNotTaken) {
		t.Errorf("the lookup's failure %q is reported as the lock's", err)
	}
	before := proxy.Counts()
	if err := find(); err != nil {
		t.Fatalf("the lookup after its statement was gone: %v", err)
	}
	// PREPARE, then BEGIN with the lock and the lookup, then ROLLBACK.
	if c := proxy.Counts().Sub(before); c.Queries != 3 {
		t.Errorf("%v, want the statement prepared again", c)
	}
}

// A lookup whose statement cannot be prepared (no schema here) has not
// asked for the lock: its failure is the lookup's, as it is when the
// lookup goes apart from BEGIN, and the unit, which sent nothing, rolls
// back without a word to the server.
func TestFirstStatementThatCannotBePreparedIsNotTheLocksFailure(t *testing.T) {
	t.Parallel()
	repo := NewTokenRepository(mustOpenURL(t, mustCreateScratchDB(t)), nil)
	ctx := context.Background()
	q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	tx, err := repo.BeginDeferred(ctx, newLock(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.FindChild(ctx, q)
	if pq.As(err, pqerror.UndefinedTable) == nil {
		t.Fatalf("FindChild without a schema = %v, want undefined_table", err)
	}
	if errors.Is(err, ports.ErrLockNotTaken) {
		t.Errorf("the lookup's failure to prepare is reported as the lock's: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("Rollback: %v", err)
	}
}

// In a database whose encoding is not UTF-8, text the server cannot
// convert would fail the whole message, BEGIN included: text that is not
// ASCII goes apart from BEGIN, and fails as the lookup's own, after the
// lock, with the unit still there to roll back.
func TestFirstStatementOfTextBeyondASCIIGoesApart(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDBWith(t, "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"))
	ctx := context.Background()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	repo := NewTokenRepository(db, nil)
	q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeInternal, Service: "check✓",
		Scopes: []string{"read:all"}, MinExpiration: testCreated}
	tx, err := repo.BeginDeferred(ctx, newLock(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.FindChild(ctx, q)
	if pq.As(err, pqerror.UntranslatableCharacter) == nil {
		t.Fatalf("FindChild of %q in LATIN1 = %v, want untranslatable_character", q.Service, err)
	}
	if errors.Is(err, ports.ErrLockNotTaken) {
		t.Errorf("the lookup's failure is reported as the lock's: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("Rollback: %v", err)
	}
}
