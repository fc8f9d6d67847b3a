package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/mock/gomock"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
	"github.com/tokencache/tokencache/ports"
)

// The clean-up after a failed creation cannot be skipped because of how the
// error looks, and one that fails is retried in the background until it
// succeeds.

// A refused connection, a reset or EOF is how go-redis reports a SET whose
// reply was lost once its retries found the server gone: the token may be
// in the store.
func TestCleanupFollowsEveryFailedStoreWrite(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"ConnectionRefused", fmt.Errorf("dial tcp 127.0.0.1:6379: %w", syscall.ECONNREFUSED)},
		{"ConnectionReset", fmt.Errorf("read tcp 127.0.0.1:6379: %w", syscall.ECONNRESET)},
		{"EOF", io.EOF},
		{"Timeout", timeoutError{}},
		{"Other", errors.New("ERR something unexpected")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.expectNoExisting()
			f.expectAddedAlongside()
			var stored domain.TokenData
			gomock.InOrder(
				f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
					stored = d
					return tt.err
				}),
				f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, key string) error {
					if key != stored.Token.Key {
						t.Errorf("deleted %s, want the stored %s", key, stored.Token.Key)
					}
					return nil
				}),
			)
			if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if n := f.svc.PendingCleanups(); n != 0 {
				t.Fatalf("%d clean-ups pending after a clean-up that succeeded", n)
			}
		})
	}
}

// expectStoreFailure expects a creation whose write to the token store
// fails, returning the key of the token it wrote.
func (f *fixture) expectStoreFailure() *string {
	f.expectNoExisting()
	f.expectAddedAlongside()
	var key string
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		key = d.Token.Key
		return errUnreachable
	})
	return &key
}

func TestCleanupThatFailsIsRetriedUntilItSucceeds(t *testing.T) {
	f := newFixture(t)
	key := f.expectStoreFailure()
	gomock.InOrder(
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).Times(3),
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, k string) error {
			if k != *key {
				t.Errorf("deleted %s, want %s", k, *key)
			}
			if _, ok := ctx.Deadline(); !ok {
				t.Error("a background attempt has no deadline")
			}
			return nil
		}),
	)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	if n := f.svc.PendingCleanups(); n != 1 {
		t.Fatalf("PendingCleanups = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.svc.PendingCleanups(); n != 0 {
		t.Fatalf("PendingCleanups = %d after the drain, want 0", n)
	}
	f.svc.Close() // no more logging
	logs := f.logs.String()
	for _, want := range []string{"retrying in the background", "cleaned up after a failed creation", `"token_key":"` + *key + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q: %s", want, logs)
		}
	}
	if c := f.observer.Counts(); c.StoreErrors != 2 {
		t.Errorf("StoreErrors = %d, want 2 (the write and the first clean-up)", c.StoreErrors)
	}
	wantStoreErrors(t, f.observer, map[string]int{"token_store.store": 1, "token_store.delete": 1})
}

// A panic in the token store's driver while the child is deleted at once,
// after its write failed, is that attempt's failure: the deletion is
// queued and retried, not lost with the panic.
func TestCleanupThatPanicsAtOnceIsQueued(t *testing.T) {
	f := newFixture(t)
	key := f.expectStoreFailure()
	gomock.InOrder(
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, string) error {
			panic("a driver's bug")
		}),
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, k string) error {
			if k != *key {
				t.Errorf("deleted %s, want %s", k, *key)
			}
			return nil
		}),
	)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errors.Is(err, errUnreachable) {
		t.Fatalf("err = %v, want the write's %v", err, errUnreachable)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.svc.PendingCleanups(); n != 0 {
		t.Fatalf("PendingCleanups = %d after the drain, want 0", n)
	}
	f.svc.Close() // no more logging
	if logs := f.logs.String(); strings.Contains(logs, "a driver's bug") {
		t.Errorf("the panic's value was logged (it might quote a token): %s", logs)
	}
}

// A round stops at the first failure of the token store, which would most
// likely fail the next attempts too; a failure of the repository, asked
// whether an unsettled commit took effect, says nothing of the token store,
// and the round goes on with the other clean-ups (Close's last round would
// otherwise give them up with the token store up).
func TestRoundGoesOnPastARepositoryThatFails(t *testing.T) {
	tests := []struct {
		name   string
		expect func(f *fixture)
	}{
		{"BeginRefused", func(f *fixture) {
			f.repo.EXPECT().Begin(gomock.Any(), domain.CacheKey("unsettled-lock")).Return(nil, errUnreachable)
		}},
		{"RowCheckFails", func(f *fixture) {
			f.repo.EXPECT().Begin(gomock.Any(), domain.CacheKey("unsettled-lock")).Return(f.tx, nil)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
			f.repo.EXPECT().TokenExists(gomock.Any(), "unsettled").Return(false, errUnreachable)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.svc.cleanups
			const others = 20
			c.mu.Lock()
			c.pending["unsettled"] = leftover{key: "unsettled", mayBeRecorded: true, lock: "unsettled-lock"}
			for i := range others {
				key := fmt.Sprintf("other-%d", i)
				c.pending[key] = leftover{key: key}
			}
			c.empty = make(chan struct{})
			c.mu.Unlock()
			tt.expect(f)
			var deleted atomic.Int64
			f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, string) error {
				deleted.Add(1)
				return nil
			}).Times(others)

			if c.round(context.Background(), retryAttempt) {
				t.Error("round reported every clean-up settled, with the unsettled one left")
			}
			if n := deleted.Load(); n != others {
				t.Fatalf("%d of the %d other clean-ups were done in the round, want all", n, others)
			}
			if n := c.count(); n != 1 {
				t.Fatalf("%d clean-ups pending after the round, want the unsettled one", n)
			}
		})
	}
}

// queueCleanups puts unsettled clean-ups (a commit whose outcome is
// unknown) and token-store-only ones in c's queue.
func queueCleanups(c *cleaner, unsettled, storeOnly int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range unsettled {
		key := fmt.Sprintf("unsettled-%d", i)
		c.pending[key] = leftover{key: key, mayBeRecorded: true, lock: domain.CacheKey(key + "-lock")}
	}
	for i := range storeOnly {
		key := fmt.Sprintf("other-%d", i)
		c.pending[key] = leftover{key: key}
	}
	c.empty = make(chan struct{})
}

// A repository that refuses is asked once a round, not once for each
// unsettled commit, and logged once.
func TestRoundAsksARepositoryThatRefusesOnce(t *testing.T) {
	f := newFixture(t)
	c := f.svc.cleanups
	const unsettled, storeOnly = 1000, 5
	queueCleanups(c, unsettled, storeOnly)
	var begins atomic.Int64
	f.repo.EXPECT().Begin(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.CacheKey) (ports.RepositoryTx, error) {
		begins.Add(1)
		return nil, errUnreachable
	}).AnyTimes()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil).Times(storeOnly)

	c.round(context.Background(), retryAttempt)
	warnings := strings.Count(f.logs.String(), "clean-up after a failed creation failed again")
	if n := begins.Load(); n != 1 || warnings != 1 {
		t.Fatalf("one round against a repository that refuses: %d connection attempts, %d warnings; want 1 of each", n, warnings)
	}
	if n := c.count(); n != unsettled {
		t.Fatalf("%d clean-ups pending after the round, want the %d unsettled", n, unsettled)
	}
}

// Close's last round deletes what needs only the token store first, so that
// a repository that hangs, each of its checks waiting out lockWait, cannot
// use up the round's time before them; and it starts nothing past its end.
func TestLastRoundDeletesFirstWhatNeedsOnlyTheTokenStore(t *testing.T) {
	f := newFixture(t)
	c := f.svc.cleanups
	const unsettled, storeOnly = 100, 10
	queueCleanups(c, unsettled, storeOnly)
	var late atomic.Int64
	f.repo.EXPECT().Begin(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		if ctx.Err() != nil {
			late.Add(1)
		}
		<-ctx.Done()
		return nil, fmt.Errorf("dial tcp 192.0.2.9:5432: %w", ctx.Err())
	}).AnyTimes()
	var deleted atomic.Int64
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		deleted.Add(1)
		return nil
	}).AnyTimes()

	c.round(context.Background(), closeAttempt)
	if n := deleted.Load(); n != storeOnly {
		t.Errorf("%d of the %d token-store-only clean-ups done in the last round, with the token store up", n, storeOnly)
	}
	if n := late.Load(); n > 0 {
		t.Errorf("%d commit checks started after the round's end", n)
	}
}

// A commit still under way keeps the child's repository lock until it
// ends; while the lock cannot be had, nothing is decided, and the
// clean-up tries again later.
func TestUnsettledCommitWaitsForItsLock(t *testing.T) {
	f := newFixture(t)
	f.expectNoExisting()
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
	settle := mocks.NewMockRepositoryTx(f.ctrl)
	gomock.InOrder(
		f.repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(nil, fmt.Errorf("waiting for repository lock: %w", context.DeadlineExceeded)),
		f.repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(settle, nil),
		settle.EXPECT().Rollback(gomock.Any()).Return(nil),
		f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(false, nil),
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil),
	)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errors.Is(err, errUnreachable) {
		t.Fatalf("err = %v, want the commit's %v", err, errUnreachable)
	}
	if err := f.svc.DrainCleanups(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.svc.Close() // no more logging
	if logs := f.logs.String(); !strings.Contains(logs, "waiting for the creation of token") {
		t.Errorf("the log does not say why the clean-up waited: %s", logs)
	}
}

func TestUnsettledCommitIsKeptWhenTheRowTurnsUp(t *testing.T) {
	f := newFixture(t)
	f.expectNoExisting()
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(errUnreachable)
	f.expectSettlementLocks(2)
	gomock.InOrder(
		f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(false, errUnreachable),
		f.repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(true, nil),
	)
	// No Delete: the commit took effect, so the child is in both stores.
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error: the outcome was unknown when the caller was answered")
	}
	if err := f.svc.DrainCleanups(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.svc.Close() // no more logging
	if !strings.Contains(f.logs.String(), "kept: its commit took effect") {
		t.Errorf("the log does not say the child was kept: %s", f.logs.String())
	}
}

func TestDrainCleanupsEndsWithItsContext(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(1)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f.svc.DrainCleanups(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 clean-ups still pending") {
		t.Fatalf("DrainCleanups = %v, want the deadline and the count", err)
	}
}

func TestCleanupQueueIsBounded(t *testing.T) {
	f := newFixture(t)
	f.svc.cleanups.limit = 1
	p := parent(t)
	for range 2 {
		f.expectStoreFailure()
	}
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(2)
	for _, service := range []string{"one", "two"} {
		if _, err := f.svc.GetInternalToken(context.Background(), p, service, nil, "192.0.2.1", 0); err == nil {
			t.Fatal("want an error")
		}
	}
	if n := f.svc.PendingCleanups(); n != 1 {
		t.Fatalf("PendingCleanups = %d, want the limit, 1", n)
	}
	f.svc.Close() // no more logging
	if !strings.Contains(f.logs.String(), "clean-up queue full") {
		t.Errorf("the dropped clean-up is not logged: %s", f.logs.String())
	}
	wantStoreErrors(t, f.observer, map[string]int{"cleanup.dropped": 1})
}

func TestCloseMakesALastAttemptAndStopsTheWorker(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := newFixture(t)
	key := f.expectStoreFailure()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(2)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	f.svc.Close()
	goleak.VerifyNone(t, before)
	logs := f.logs.String()
	if !strings.Contains(logs, "clean-up given up") || !strings.Contains(logs, `"token_key":"`+*key+`"`) {
		t.Errorf("the token left behind is not logged with its key: %s", logs)
	}

	// Once closed, no store work starts (gomock fails the test on any
	// call), so no clean-up can be added.
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("a request after Close got %v, want ErrClosed", err)
	}
	if n := f.svc.PendingCleanups(); n != 1 {
		t.Errorf("PendingCleanups = %d after Close, want the 1 left behind", n)
	}
}

// Close's last attempt is bounded by closeAttempt: a background round under
// way when Close is called is cut short rather than left to run out its own
// time first.
func TestCloseCutsShortTheRoundUnderWay(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	inRound := make(chan struct{})
	roundEnded := make(chan error, 1)
	gomock.InOrder(
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable), // at once
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ string) error {
			close(inRound) // a background round, on a store that hangs
			<-ctx.Done()
			roundEnded <- ctx.Err()
			return ctx.Err()
		}),
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil), // Close's last round
	)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	<-inRound
	f.svc.Close()
	if err := <-roundEnded; !errors.Is(err, context.Canceled) {
		t.Fatalf("the round under way ended with %v, want context.Canceled by Close", err)
	}
}

// A second Close, or one called while another is under way, returns only
// once the worker has stopped, as the first does: here a round that
// began once Close was coming (a last background one, or Close's own)
// holds the worker until released.
func TestEveryCloseWaitsForTheWorker(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	inLastRound, release := make(chan struct{}), make(chan struct{})
	inLast := sync.OnceFunc(func() { close(inLastRound) })
	var stopped atomic.Bool
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ string) error {
		if !stopped.Load() {
			return errUnreachable // at once, then background rounds, until Close
		}
		inLast()
		<-release
		return nil
	}).MinTimes(2)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	stopped.Store(true)
	first := make(chan struct{})
	go func() {
		f.svc.Close()
		close(first)
	}()
	<-inLastRound
	second := make(chan struct{})
	go func() {
		f.svc.Close()
		close(second)
	}()
	select {
	case <-second:
		t.Fatal("a second Close returned while the worker was still in its last round")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-first
	<-second
}

// DrainCleanups on a closed service cannot succeed, since no worker is left
// to retry: it says so at once rather than waiting for its context.
func TestDrainCleanupsAfterCloseReturnsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(2)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	f.svc.Close()
	drained := make(chan error, 1)
	go func() { drained <- f.svc.DrainCleanups(context.Background()) }()
	select {
	case err := <-drained:
		if err == nil {
			t.Fatal("DrainCleanups = nil with a clean-up left behind")
		}
	case <-time.After(guard):
		t.Fatalf("DrainCleanups on a closed service still waiting after %v", guard)
	}
}

// A creation whose lock is still held past lockWait may have its commit
// under way: that is one key's trouble, not the store's, so a round waits
// no longer for it and goes on with the others.
func TestRoundGoesOnPastACreationStillUnderWay(t *testing.T) {
	f := newFixture(t)
	c := f.svc.cleanups
	const others = 20
	c.mu.Lock()
	c.pending["stuck"] = leftover{key: "stuck", mayBeRecorded: true, lock: "stuck-lock"}
	for i := range others {
		key := fmt.Sprintf("other-%d", i)
		c.pending[key] = leftover{key: key}
	}
	c.empty = make(chan struct{})
	c.mu.Unlock()
	f.repo.EXPECT().Begin(gomock.Any(), domain.CacheKey("stuck-lock")).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		<-ctx.Done() // its creation keeps the lock
		return nil, fmt.Errorf("waiting for repository lock: %w", ctx.Err())
	})
	var deleted atomic.Int64
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, string) error {
		deleted.Add(1)
		return nil
	}).Times(others)

	if c.round(context.Background(), retryAttempt) {
		t.Error("round reported every clean-up settled, with the stuck one left")
	}
	if n := deleted.Load(); n != others {
		t.Fatalf("%d of the %d other clean-ups were done in the round, want all", n, others)
	}
	if n := c.count(); n != 1 {
		t.Fatalf("%d clean-ups pending after the round, want the stuck one", n)
	}
}

// DrainCleanups while Close makes its last round waits for that round,
// which may yet settle everything.
func TestDrainCleanupsDuringCloseWaitsForTheLastRound(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	inLastRound, release := make(chan struct{}), make(chan struct{})
	inLast := sync.OnceFunc(func() { close(inLastRound) })
	var closing atomic.Bool
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ string) error {
		if !closing.Load() {
			return errUnreachable
		}
		inLast()
		<-release
		return nil
	}).MinTimes(2)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	closing.Store(true)
	closed := make(chan struct{})
	go func() {
		f.svc.Close()
		close(closed)
	}()
	<-inLastRound
	drained := make(chan error, 1)
	go func() { drained <- f.svc.DrainCleanups(context.Background()) }()
	close(release)
	if err := <-drained; err != nil {
		t.Fatalf("DrainCleanups during Close = %v, want nil: the last round settled it", err)
	}
	<-closed
}

// A DrainCleanups already waiting when Close comes returns once Close's
// last round is over, with what is left, rather than waiting for its own
// context: no worker is left to empty the queue.
func TestDrainUnderWayReturnsOnceClosed(t *testing.T) {
	f := newFixture(t)
	f.expectStoreFailure()
	f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable).MinTimes(1)
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err == nil {
		t.Fatal("want an error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- f.svc.DrainCleanups(ctx) }()
	time.Sleep(50 * time.Millisecond) // DrainCleanups waits for the queue to empty
	f.svc.Close()
	select {
	case err := <-drained:
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("DrainCleanups = %v, want the clean-up left pending by the closed service", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("DrainCleanups still waited 2s after Close had returned")
	}
}
