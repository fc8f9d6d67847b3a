package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/mock/gomock"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Rule 6, callers that leave: the work a request does holding its child's
// lock (the repository lookup, the creation) runs on a context detached
// from the caller's, bounded by the creation timeout. A caller whose
// context ends gets its error at once; the work goes on, caches its child
// and hands it to the requests waiting for the lock, so that a caller who
// leaves costs neither a connection torn down mid-statement nor the child.

// guard bounds how long a spec waits for something that must happen at
// once, so that a regression fails instead of hanging.
const guard = 10 * time.Second

// alive fails t if ctx, the context a store call was given, has ended.
func alive(t *testing.T, ctx context.Context, call string) {
	t.Helper()
	if err := ctx.Err(); err != nil {
		t.Errorf("%s ran on a dead context: %v", call, err)
	}
}

// holdBeginUntil makes the next Begin tell entered, wait until release is
// called, and answer with f.tx. release also runs at cleanup, before the
// service is closed, so that a failing spec does not hang.
func holdBeginUntil(t *testing.T, f *fixture, entered chan<- struct{}) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-ch
		alive(t, ctx, "Begin")
		return f.tx, nil
	})
	return release
}

// expectLiveCreate expects the rest of a creation after Begin, each call
// on a live context; the stored child goes to *created, and finished is
// closed when the repository work is rolled back, its last step.
func (f *fixture) expectLiveCreate(t *testing.T, created *domain.TokenData) (finished <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.ChildQuery) (string, error) {
		alive(t, ctx, "FindChild")
		return "", errNotFoundSpec
	})
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, d domain.TokenData) error {
		alive(t, ctx, "Store")
		*created = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.TokenRecord) error {
		alive(t, ctx, "AddToken")
		return nil
	})
	f.tx.EXPECT().Commit(gomock.Any()).DoAndReturn(func(ctx context.Context) error {
		alive(t, ctx, "Commit")
		return nil
	})
	f.tx.EXPECT().Rollback(gomock.Any()).DoAndReturn(func(context.Context) error {
		close(done)
		return nil
	})
	return done
}

// leave starts a request whose caller gives up as soon as the work has
// entered Begin, and fails t unless the caller then returns at once with
// its context's error.
func leave(t *testing.T, entered <-chan struct{}, request func(ctx context.Context) (domain.Token, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	caller := goRequest(func() (domain.Token, error) { return request(ctx) })
	<-entered
	cancel()
	select {
	case r := <-caller:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("the caller who left got %v, %v; want context.Canceled", r.token.Key, r.err)
		}
	case <-time.After(guard):
		t.Fatalf("the caller was still waiting %v after it left, for work still in Begin", guard)
	}
}

func TestRule6CallerThatLeavesReturnsAtOnceAndTheCreationCompletes(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered := make(chan struct{})
	release := holdBeginUntil(t, f, entered)
	var created domain.TokenData
	finished := f.expectLiveCreate(t, &created)
	request := func(ctx context.Context) (domain.Token, error) {
		return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	}

	leave(t, entered, request)
	// A request that comes meanwhile waits for the work and takes its child.
	waiter := goRequest(func() (domain.Token, error) { return request(context.Background()) })
	waitFor(t, func() bool { return f.svc.flights.Waiting() == 1 })
	release()
	if r := <-waiter; r.err != nil || r.token != created.Token {
		t.Fatalf("waiter got %v, %v; want the child made for the caller who left", r.token.Key, r.err)
	}
	<-finished

	// The child is cached: the next request is a hit.
	f.store.EXPECT().Get(gomock.Any(), created.Token).Return(created, nil)
	if got, err := request(context.Background()); err != nil || got != created.Token {
		t.Fatalf("next request got %v, %v; want the cached child %v", got.Key, err, created.Token.Key)
	}
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.CacheHits, c.Lookups, c.Created = 2, 2, 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
}

// The work goes on after its caller has returned, and a caller may then
// reuse what it passed in: the work has its own copy of the request, slices
// included, and the child gets the parent as it was asked with.
func TestRule6WorkDoesNotShareTheCallersSlices(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered := make(chan struct{})
	release := holdBeginUntil(t, f, entered)
	var created domain.TokenData
	finished := f.expectLiveCreate(t, &created)

	leave(t, entered, func(ctx context.Context) (domain.Token, error) {
		return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	})
	// The caller has its answer and reuses its parent's slices.
	p.Groups[0] = domain.Group{Name: "g_admins", ID: 1}
	p.Scopes[0] = "admin:token"
	release()
	<-finished
	if want := []domain.Group{{Name: "g_users", ID: 4124}}; !reflect.DeepEqual(created.Groups, want) {
		t.Errorf("child groups = %v, want the parent's %v as asked", created.Groups, want)
	}
	if want := []string{"exec:notebook", "read:all", "read:tap"}; !reflect.DeepEqual(created.Scopes, want) {
		t.Errorf("child scopes = %v, want the parent's %v as asked", created.Scopes, want)
	}
}

func TestRule6WorkEndsAtTheCreationTimeout(t *testing.T) {
	f := newFixture(t)
	f.svc.creationTimeout = 20 * time.Millisecond
	p := parent(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		<-ctx.Done() // a repository lock held elsewhere, or a stalled server
		return nil, ctx.Err()
	})
	caller := goRequest(func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	})
	select {
	case r := <-caller:
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("got %v, %v; want an error wrapping context.DeadlineExceeded", r.token.Key, r.err)
		}
	case <-time.After(guard):
		t.Fatalf("a caller without a deadline still waited %v for work bounded by %v", guard, f.svc.creationTimeout)
	}
	// The service's own bound ran out, not the caller's patience: a store
	// failure.
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.StoreErrors = 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
	if n := f.svc.flights.Len(); n != 0 {
		t.Fatalf("lock table keeps %d entries, want 0", n)
	}
}

// The same wait where PostgreSQL's repository has it: in the first
// lookup, which goes with the lock (BeginDeferred). It ends at the
// creation timeout too, the unit is rolled back on a live context, and
// the failure counts as the repository's work failing to begin, as
// Begin's would.
func TestRule6LockWaitInTheFirstLookupEndsAtTheCreationTimeout(t *testing.T) {
	f := newFixture(t)
	f.svc.creationTimeout = 20 * time.Millisecond
	p := parent(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.ChildQuery) (string, error) {
		<-ctx.Done() // the lock held elsewhere
		return "", fmt.Errorf("waiting for repository lock 7: %w: %w", ports.ErrLockNotTaken, ctx.Err())
	})
	f.tx.EXPECT().Rollback(gomock.Any()).DoAndReturn(func(ctx context.Context) error {
		alive(t, ctx, "Rollback")
		return nil
	})
	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.StoreErrors = 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
	wantStoreErrors(t, f.observer, map[string]int{"repository.begin": 1, "repository.find": 0})
	if n := f.svc.flights.Len(); n != 0 {
		t.Fatalf("lock table keeps %d entries, want 0", n)
	}
}

func TestRule6WaiterTriesItselfWhenTheHolderTimedOut(t *testing.T) {
	f := newFixture(t)
	f.svc.creationTimeout = 50 * time.Millisecond
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-release
		<-ctx.Done()
		return nil, ctx.Err()
	})
	var created domain.TokenData
	f.expectCreate(&created) // the waiter's own attempt

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	holder, ws := startHerd(t, f, entered, request, request)
	close(release)
	if r := <-holder; !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("holder got %v, want its work's timeout", r.err)
	}
	// A timeout says only that the holder's work took too long: the
	// waiter's own attempt may well succeed.
	if r := <-ws[0]; r.err != nil || r.token != created.Token {
		t.Fatalf("waiter got %v, %v; want the child of its own attempt", r.token.Key, r.err)
	}
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.StoreErrors, c.Lookups, c.Created = 2, 1, 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
}

func TestRule6DrainCleanupsWaitsForWorkWhoseCallerLeft(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered := make(chan struct{})
	release := holdBeginUntil(t, f, entered)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(errUnreachable)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	// The clean-up fails at once and is queued; the queue's retry succeeds.
	var deleted atomic.Bool
	gomock.InOrder(
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(errUnreachable),
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, string) error {
			deleted.Store(true)
			return nil
		}),
	)

	leave(t, entered, func(ctx context.Context) (domain.Token, error) {
		return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	})
	// Nothing is queued yet: the work that will queue it is still in Begin.
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		drained <- f.svc.DrainCleanups(ctx)
	}()
	release()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if !deleted.Load() {
		t.Fatal("DrainCleanups returned before the clean-up of the work whose caller left")
	}
}

func TestRule6CloseWaitsForWorkWhoseCallerLeft(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := newFixture(t)
	p := parent(t)
	entered := make(chan struct{})
	release := holdBeginUntil(t, f, entered)
	var created domain.TokenData
	finished := f.expectLiveCreate(t, &created)

	leave(t, entered, func(ctx context.Context) (domain.Token, error) {
		return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	})
	closed := make(chan struct{})
	go func() {
		f.svc.Close()
		close(closed)
	}()
	release()
	<-closed
	select {
	case <-finished:
	default:
		t.Fatal("Close returned before the work whose caller left had finished")
	}
	if c := f.observer.Counts(); c.Created != 1 {
		t.Fatalf("observer counts = %+v, want 1 created", c)
	}
	goleak.VerifyNone(t, before)
}

func TestRule6PanicInTheWork(t *testing.T) {
	t.Run("ReachesTheWaitingCaller", func(t *testing.T) {
		f := newFixture(t)
		p := parent(t)
		f.expectNoExisting()
		f.expectAddedAlongside()
		f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.TokenData) error {
			panic("boom")
		})
		// The write may have been done before the panic: it is cleaned up.
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
		var got any
		func() {
			defer func() { got = recover() }()
			_, _ = f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
		}()
		if got != "boom" {
			t.Fatalf("the caller recovered %v, want the work's panic", got)
		}
		if n := f.svc.flights.Len(); n != 0 {
			t.Fatalf("lock table keeps %d entries after the panic, want 0", n)
		}
	})
	t.Run("IsLoggedWhenTheCallerLeft", func(t *testing.T) {
		f := newFixture(t)
		p := parent(t)
		entered := make(chan struct{})
		release := holdBeginUntil(t, f, entered)
		f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
		f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
		f.expectAddedAlongside()
		f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.TokenData) error {
			panic("boom")
		})
		// The write may have been done before the panic: it is cleaned up.
		f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
		leave(t, entered, func(ctx context.Context) (domain.Token, error) {
			return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
		})
		release()
		f.svc.Close() // waits for the work
		if logs := f.logs.String(); !strings.Contains(logs, "panicked") {
			t.Fatalf("no log of the panic: %s", logs)
		}
		if n := f.svc.flights.Len(); n != 0 {
			t.Fatalf("lock table keeps %d entries after the panic, want 0", n)
		}
	})
}

func TestRule6CallerAlreadyGoneStartsNoWork(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// No store call is expected: the cache is empty, and nothing else may
	// be asked on behalf of a caller who has left.
	if _, err := f.svc.GetNotebookToken(ctx, parent(t), "192.0.2.1", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := f.svc.flights.Len(); n != 0 {
		t.Fatalf("lock table keeps %d entries, want 0", n)
	}
}

// Work that fails after its caller has left is logged: no caller is there
// to report it, and a count of store errors does not say which token or
// why.
func TestRule6WorkThatFailsAfterItsCallerLeftIsLogged(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-release
		return nil, errUnreachable
	})
	leave(t, entered, func(ctx context.Context) (domain.Token, error) {
		return f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	})
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := f.svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "failed after its caller had left") || !strings.Contains(logs, errUnreachable.Error()) {
		t.Errorf("the failure of work whose caller left is not logged with its error: %s", logs)
	}
}

// Close waits for all the store work of requests under way, including a
// request that was waiting for another's work when Close began and would
// take the lock when that work ended: it gets ErrClosed and starts no
// work, since the stores are about to be closed.
func TestRule6CloseWaitsForAllWorkAndStartsNone(t *testing.T) {
	w := newAbandonWorld(t, guard)
	w.svc.creationTimeout = 200 * time.Millisecond
	key := w.liveKey
	held := w.repo.gate(t, key)
	holder := goRequest(func() (domain.Token, error) { return w.request(context.Background(), w.live) })
	<-held.entered
	next := w.repo.gate(t, key) // the next Begin for key: the waiter's own work
	waiter := goRequest(func() (domain.Token, error) { return w.request(context.Background(), w.live) })
	waitFor(t, func() bool { return w.svc.flights.Waiting() == 1 })

	closed := make(chan struct{})
	go func() { w.svc.Close(); close(closed) }()
	time.Sleep(250 * time.Millisecond) // the holder's work passes its creation timeout,
	held.open()                        // and fails: the waiter would try itself
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("Close did not return")
	}
	select {
	case <-next.entered:
		t.Error("the waiter's store work started after Close began")
	default:
	}
	if r := <-waiter; !errors.Is(r.err, ErrClosed) {
		t.Errorf("the waiter got %v, %v; want ErrClosed", r.token.Key, r.err)
	}
	next.open()
	<-holder
}
