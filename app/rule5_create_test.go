package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
)

// Rule 5: a new child is written to the token store and, at the same time,
// added to one repository unit of work, which is committed only once the
// token store has the child; if anything fails the stored token is deleted,
// even when the caller has given up, and the unit of work rolled back.

// expectNoExisting expects the lookup that precedes every creation.
func (f *fixture) expectNoExisting() {
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
}

func TestRule5NewInternalChildStoredThenCommitted(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	f.expectNoExisting()
	var stored domain.TokenData
	var rec domain.TokenRecord
	storing := f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		stored = d
		return nil
	})
	adding := f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r domain.TokenRecord) error {
		rec = r
		return nil
	})
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil).After(storing).After(adding)
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:tap", "read:all"}, "2001:db8::7", 0)
	if err != nil {
		t.Fatal(err)
	}
	created := specNow.Truncate(time.Second)
	want := domain.TokenData{
		Token: got, Username: "alice", Type: domain.TokenTypeInternal, Service: "portal",
		Scopes: []string{"read:all", "read:tap"}, Created: created, Expires: created.Add(specLifetime),
		Name: p.Name, Email: p.Email, UID: p.UID, GID: p.GID, Groups: p.Groups,
	}
	if !reflect.DeepEqual(stored, want) {
		t.Fatalf("stored\n%+v\nwant\n%+v", stored, want)
	}
	wantRec := domain.TokenRecord{Data: want, ParentKey: p.Token.Key, Actor: "alice", IPAddress: "2001:db8::7"}
	if !reflect.DeepEqual(rec, wantRec) {
		t.Fatalf("recorded\n%+v\nwant\n%+v", rec, wantRec)
	}
	if c := f.observer.Counts(); c.Created != 1 || c.Lookups != 1 {
		t.Fatalf("observer counts = %+v", c)
	}
}

func TestRule5NewNotebookChildCopiesParentScopes(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	var stored domain.TokenData
	f.expectCreate(&stored)
	if _, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	if stored.Type != domain.TokenTypeNotebook || stored.Service != "" || !reflect.DeepEqual(stored.Scopes, p.Scopes) {
		t.Fatalf("stored %+v; want a notebook token with the parent's scopes", stored)
	}
}

func TestRule5ExpiryCappedAtParentExpiry(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t)
	var stored domain.TokenData
	f.expectCreate(&stored)
	if _, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	if !stored.Expires.Equal(p.Expires) {
		t.Fatalf("expires %v, want the parent's %v", stored.Expires, p.Expires)
	}
}

func TestRule5TokenStoreFailureCommitsNoRows(t *testing.T) {
	f := newFixture(t)
	f.expectNoExisting()
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(errUnreachable)
	f.expectAddedAlongside()
	// No Commit is expected: the rows are rolled back. The token is
	// deleted all the same: a write whose reply was lost ends as a
	// refused connection once the client has retried.
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
	_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
	if !errorsIs(err, errUnreachable) || f.observer.Counts().StoreErrors != 1 {
		t.Fatalf("err = %v, counts %+v", err, f.observer.Counts())
	}
	wantStoreErrors(t, f.observer, map[string]int{"token_store.store": 1})
}

// expectAddedAlongside expects the rows that a creation adds while it
// writes to the token store.
func (f *fixture) expectAddedAlongside() {
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
}

// expectStoredThenDeleted expects a child to be stored and its rows added,
// and then, after the commit fails, the child deleted by its key on a live
// context.
func (f *fixture) expectStoredThenDeleted(t *testing.T, failRecording func()) {
	t.Helper()
	f.expectNoExisting()
	var stored domain.TokenData
	storing := f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		stored = d
		return nil
	})
	f.expectAddedAlongside()
	failRecording()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).After(storing).DoAndReturn(func(ctx context.Context, key string) error {
		if key != stored.Token.Key {
			t.Errorf("deleted %s, want the stored %s", key, stored.Token.Key)
		}
		if err := ctx.Err(); err != nil {
			t.Errorf("clean-up ran on a dead context: %v", err)
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("clean-up context has no timeout of its own")
		}
		return nil
	})
}

func TestRule5AddFailureDeletesStoredToken(t *testing.T) {
	f := newFixture(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	var stored domain.TokenData
	storing := f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		stored = d
		return nil
	})
	adding := f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(errUnreachable)
	// Not before the write has ended: a delete that overtook it would
	// leave the child behind.
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).After(storing).After(adding).DoAndReturn(func(_ context.Context, key string) error {
		if key != stored.Token.Key {
			t.Errorf("deleted %s, want %s", key, stored.Token.Key)
		}
		return nil
	})
	_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
	if !errorsIs(err, errUnreachable) {
		t.Fatalf("err = %v", err)
	}
	wantStoreErrors(t, f.observer, map[string]int{"repository.add": 1})
}

func TestRule5CommitFailureDeletesStoredToken(t *testing.T) {
	f := newFixture(t)
	f.expectStoredThenDeleted(t, func() {
		f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
		f.expectCommitSettled(false)
	})
	_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
	if !errorsIs(err, errUnreachable) || f.observer.Counts().StoreErrors != 1 {
		t.Fatalf("err = %v, counts %+v", err, f.observer.Counts())
	}
	wantStoreErrors(t, f.observer, map[string]int{"repository.commit": 1})
}

func TestRule5UnknownParentIsInvalidToken(t *testing.T) {
	f := newFixture(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).
		Return(fmt.Errorf("adding token: %w: parent is not in the repository", domain.ErrInvalidToken))
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
	_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
	if !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
	if n := f.observer.Counts().StoreErrors; n != 0 {
		t.Fatalf("an unknown parent counted as %d store errors, want 0", n)
	}
}

// A caller that gives up no longer stops a creation (rule 6: the work runs
// detached from it); the work's own creation timeout does, and the specs
// below let it run out mid-way.

func TestRule5CancelledMidwayStillCleansUp(t *testing.T) {
	f := newFixture(t)
	f.svc.creationTimeout = 20 * time.Millisecond
	f.expectStoredThenDeleted(t, func() {
		// The creation timeout runs out while the rows are being committed.
		f.tx.EXPECT().Commit(gomock.Any()).DoAndReturn(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		f.expectCommitSettled(false)
	})
	_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if n := f.observer.Counts().StoreErrors; n != 1 {
		t.Fatalf("a commit past the creation timeout counted as %d store errors, want 1", n)
	}
}

func TestRule5FailedCleanUpIsLoggedWithKeyOnly(t *testing.T) {
	f := newFixture(t)
	f.expectNoExisting()
	var stored domain.TokenData
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		stored = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
	f.expectCommitSettled(false)
	// Retried in the background until the service is closed.
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(1)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	f.svc.Close() // stops the retries, which log too
	logs := f.logs.String()
	if !strings.Contains(logs, `"token_key":"`+stored.Token.Key+`"`) {
		t.Fatalf("log lacks the token key: %s", logs)
	}
	if strings.Contains(logs, stored.Token.Secret) {
		t.Fatalf("log contains the secret: %s", logs)
	}
	if n := f.observer.Counts().StoreErrors; n != 2 {
		t.Fatalf("StoreErrors = %d, want 2 (commit and delete)", n)
	}
	wantStoreErrors(t, f.observer, map[string]int{"repository.commit": 1, "token_store.delete": 1})
}

func TestRule5RandomSourceFailureWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.svc.random = failingReader{}
	f.expectNoExisting()
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error when no random bytes can be read")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// timeoutError is how a network client reports a reply that did not come
// in time: the request may have been applied all the same.
type timeoutError struct{}

func (timeoutError) Error() string { return "read tcp 127.0.0.1:6379: i/o timeout" }
func (timeoutError) Timeout() bool { return true }

func TestRule5StoreWriteOfUnknownOutcomeIsCleanedUp(t *testing.T) {
	tests := []struct {
		name        string
		storeFails  func(ctx context.Context) error
		wantErr     error
		storeErrors int
	}{
		{"CreationTimedOut", func(ctx context.Context) error {
			<-ctx.Done() // the write was sent, the reply never read
			return fmt.Errorf("set: %w", ctx.Err())
		}, context.DeadlineExceeded, 1},
		{"StoreTimedOut", func(context.Context) error {
			return fmt.Errorf("set: %w", timeoutError{})
		}, timeoutError{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.creationTimeout = 20 * time.Millisecond
			f.expectNoExisting()
			f.expectAddedAlongside() // and rolled back: no Commit is expected
			var stored domain.TokenData
			gomock.InOrder(
				f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, d domain.TokenData) error {
					stored = d
					return tt.storeFails(ctx)
				}),
				f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, key string) error {
					if key != stored.Token.Key {
						t.Errorf("deleted %s, want the stored %s", key, stored.Token.Key)
					}
					if err := ctx.Err(); err != nil {
						t.Errorf("clean-up ran on a dead context: %v", err)
					}
					return nil
				}),
			)
			_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n := f.observer.Counts().StoreErrors; n != tt.storeErrors {
				t.Fatalf("StoreErrors = %d, want %d", n, tt.storeErrors)
			}
		})
	}
}

func TestRule5CancelledMidwayRollsBackOnLiveContext(t *testing.T) {
	f := newFixture(t)
	f.svc.creationTimeout = 20 * time.Millisecond
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.TokenRecord) error {
		<-ctx.Done()
		return ctx.Err()
	})
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
	// The repository lock must be released at once, not left to the
	// repository to notice that the caller has gone.
	f.tx.EXPECT().Rollback(gomock.Any()).DoAndReturn(func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			t.Errorf("rollback ran on a dead context: %v", err)
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("rollback context has no timeout of its own")
		}
		return nil
	})
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// expectSettlementLocks expects n units of work that only take the child's
// repository lock and let it go: the service asks whether a failed commit
// took effect only once it holds the lock the commit's unit held, which
// that unit keeps until it has ended.
func (f *fixture) expectSettlementLocks(n int) {
	tx := mocks.NewMockRepositoryTx(f.ctrl)
	f.repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(tx, nil).Times(n)
	tx.EXPECT().Rollback(gomock.Any()).Return(nil).Times(n)
}

// expectCommitSettled expects the service to ask, on a live context and
// holding the child's lock, whether a failed commit took effect, and
// answers committed.
func (f *fixture) expectCommitSettled(committed bool) {
	f.expectSettlementLocks(1)
	f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ string) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return committed, nil
	})
}

func TestRule5CommitAnswerLostButCommittedKeepsTheToken(t *testing.T) {
	f := newFixture(t)
	f.expectNoExisting()
	var stored domain.TokenData
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		stored = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
	p := parent(t)
	// Asked once the commit's own unit of work has let the child's lock go,
	// and after letting it go again: holding one connection for the lock
	// while asking on another, a burst of such checks could take the
	// whole pool and wait for each other.
	settle := mocks.NewMockRepositoryTx(f.ctrl)
	gomock.InOrder(
		f.repo.EXPECT().Begin(gomock.Any(), domain.NotebookCacheKey(p)).Return(settle, nil),
		settle.EXPECT().Rollback(gomock.Any()).Return(nil),
		f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, key string) (bool, error) {
			if key != stored.Token.Key {
				t.Errorf("asked about %s, want the new child %s", key, stored.Token.Key)
			}
			return true, nil
		}),
	)
	// No Delete: the child is in both stores.
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got != stored.Token {
		t.Fatalf("got %v, %v; want the recorded child", got.Key, err)
	}
	if c := f.observer.Counts(); c.Created != 1 || c.StoreErrors != 1 {
		t.Fatalf("observer counts = %+v; want the child created and the commit error counted", c)
	}
}

func TestRule5CommitOutcomeUnknownDeletesTheToken(t *testing.T) {
	f := newFixture(t)
	f.expectStoredThenDeleted(t, func() {
		f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
		// Settled in the background once the repository answers.
		f.expectSettlementLocks(2)
		gomock.InOrder(
			f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(false, errUnreachable),
			f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(false, nil),
		)
	})
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errorsIs(err, errUnreachable) {
		t.Fatalf("err = %v", err)
	}
	if err := f.svc.DrainCleanups(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRule5AddFailureNeedsNoCommitCheck(t *testing.T) {
	// AddToken failing means nothing was committed: no TokenExists call is
	// expected (gomock fails the test on one).
	f := newFixture(t)
	f.expectNoExisting()
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(errUnreachable)
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errorsIs(err, errUnreachable) {
		t.Fatalf("err = %v", err)
	}
}
