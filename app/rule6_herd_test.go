package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Rule 6, herds: requests that waited for the holder of a child's lock take
// the holder's result, the child it has just read or written, without
// reading the stores again, when that child will do for them; otherwise
// they look for themselves. The holder's failures are shared too, unless
// they are the holder's own: its own timeout, or a refusal of a new child
// that the waiter's own lookup might have avoided by reusing one.

// holdBegin makes the next Begin wait until release is closed, telling
// entered when it starts waiting, and then answer with f.tx.
func holdBegin(f *fixture, entered chan<- struct{}, release <-chan struct{}) {
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-release
		return f.tx, nil
	})
}

// startHerd starts the holder's request, waits until it is in Begin, then
// starts the waiters' requests and waits until they all wait for it. The
// holder's Begin must wait on release, as holdBegin makes it.
func startHerd(t *testing.T, f *fixture, entered <-chan struct{}, holder func() (domain.Token, error), waiters ...func() (domain.Token, error)) (<-chan result, []<-chan result) {
	t.Helper()
	h := goRequest(holder)
	<-entered
	ws := make([]<-chan result, len(waiters))
	for i, w := range waiters {
		ws[i] = goRequest(w)
	}
	waitFor(t, func() bool { return f.svc.flights.Waiting() == len(waiters) })
	return h, ws
}

func TestRule6WaitersTakeTheHolderResult(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	holdBegin(f, entered, release)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	var created domain.TokenData
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		created = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	// No Get: a waiter that read the token store again would fail here.

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	const waiters = 20
	herd := make([]func() (domain.Token, error), waiters)
	for i := range herd {
		herd[i] = request
	}
	holder, ws := startHerd(t, f, entered, request, herd...)
	close(release)
	if r := <-holder; r.err != nil || r.token != created.Token {
		t.Fatalf("holder got %v, %v; want the child it created", r.token.Key, r.err)
	}
	for i, w := range ws {
		if r := <-w; r.err != nil || r.token != created.Token {
			t.Fatalf("waiter %d got %v, %v; want the holder's child %v", i, r.token.Key, r.err, created.Token.Key)
		}
	}
	// A waiter handed the child the holder has just cached counts as a hit,
	// as it did when it read that child from the cache.
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.CacheHits, c.Lookups, c.Created = 1+waiters, waiters, 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
}

func TestRule6WaiterTakesTheHolderResultOnlyIfItWillDo(t *testing.T) {
	// The holder finds in the repository a child with 13 hours left of 30,
	// created under a longer token lifetime: past half its life, so not
	// reusable from the cache, but beyond the lookup's cut-off of half the
	// token lifetime (12 hours), so reusable from the repository (rule 4).
	tests := []struct {
		name   string
		waiter func(f *fixture, p domain.TokenData) (domain.Token, error)
		// own says the waiter must make its own child: the holder's does
		// not meet its request.
		own bool
	}{
		{"SameRequest", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 0)
		}, false},
		{"ShorterMinimumLifetime", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 2*time.Hour)
		}, false},
		{"LongerMinimumLifetime", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 20*time.Hour)
		}, true},
		{"ParentHasLostAScope", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			p.Scopes = []string{"read:all"} // same key and expiry: the same cache key
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 0)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := parent(t)
			old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-17*time.Hour), 30*time.Hour)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release)
			f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return(old.Token.Key, nil)
			f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).Return(old, nil)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
			var created domain.TokenData
			if tt.own {
				f.expectCreate(&created)
			}

			holder, ws := startHerd(t, f, entered,
				func() (domain.Token, error) { return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0) },
				func() (domain.Token, error) { return tt.waiter(f, p) })
			close(release)
			if r := <-holder; r.err != nil || r.token != old.Token {
				t.Fatalf("holder got %v, %v; want the repository's child %v", r.token.Key, r.err, old.Token.Key)
			}
			r := <-ws[0]
			want := old.Token
			if tt.own {
				want = created.Token // stored by the waiter's own creation
			}
			if r.err != nil || r.token != want {
				t.Fatalf("waiter got %v, %v; want %v", r.token.Key, r.err, want.Key)
			}
		})
	}
}

func TestRule6WaiterSharesTheHolderFailure(t *testing.T) {
	tests := []struct {
		name string
		// fail makes the holder's work, once Begin has answered, fail.
		fail        func(f *fixture)
		wantErr     error
		wantCounted func(c *memory.Counts)
	}{
		{
			name: "StoreFailure",
			fail: func(f *fixture) {
				f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errUnreachable)
			},
			wantErr:     errUnreachable,
			wantCounted: func(c *memory.Counts) { c.StoreErrors = 1 },
		},
		{
			name: "TooManyChildren",
			fail: func(f *fixture) {
				f.svc.budget = domain.ChildBudget{Max: 1, Window: time.Hour}
				f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).
					Return(ports.ChildLookup{Recent: domain.ChildCount{N: 1, LastToLeave: specNow.Add(-time.Minute)}}, nil)
			},
			wantErr:     domain.ErrTooManyChildren,
			wantCounted: func(c *memory.Counts) { c.Lookups, c.Refused = 1, 1 },
		},
		{
			name: "ParentUnknownToTheRepository",
			fail: func(f *fixture) {
				f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
				f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
				f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).
					Return(fmt.Errorf("adding token: %w: parent is not in the repository", domain.ErrInvalidToken))
				f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
			},
			wantErr:     domain.ErrInvalidToken,
			wantCounted: func(c *memory.Counts) { c.Lookups = 1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := parent(t)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release) // once: the waiter makes no attempt of its own
			tt.fail(f)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)

			request := func() (domain.Token, error) {
				return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
			}
			holder, ws := startHerd(t, f, entered, request, request)
			close(release)
			if r := <-holder; !errors.Is(r.err, tt.wantErr) {
				t.Fatalf("holder got %v, want %v", r.err, tt.wantErr)
			}
			if r := <-ws[0]; !errors.Is(r.err, tt.wantErr) {
				t.Fatalf("waiter got %v, want the holder's %v", r.err, tt.wantErr)
			}
			// One failure, counted once; two requests that found nothing.
			want := countsWith(func(c *memory.Counts) { tt.wantCounted(c); c.CacheMisses = 2 })
			if c := f.observer.Counts(); c != want {
				t.Fatalf("observer counts = %+v, want %+v", c, want)
			}
		})
	}
}

// A refusal for a full child budget (rule 10) depends on the holder's own
// cut-off: it came after a lookup that found no child living past it. A
// waiter whose cut-off is earlier may reuse a child that lookup passed
// over, and reuse is never refused, so it looks for itself; a waiter whose
// cut-off is no earlier would find nothing more, and shares the refusal.
func TestRule6BudgetRefusalIsSharedOnlyWithWaitersItBinds(t *testing.T) {
	tests := []struct {
		name           string
		waiterLifetime time.Duration // the waiter's minimum lifetime
		wantReuse      bool
	}{
		{"ShorterMinimumLifetime", 2 * time.Hour, true},
		{"SameMinimumLifetime", 20 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.budget = domain.ChildBudget{Max: 1, Window: time.Hour}
			p := parent(t)
			// 13 hours left: enough for a 2-hour minimum, not a 20-hour one.
			old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-17*time.Hour), 30*time.Hour)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release)
			units := 1
			if tt.wantReuse { // the waiter's own unit of work
				units = 2
				f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
				f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).Return(old, nil)
			}
			f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
				func(_ context.Context, q domain.ChildQuery, _ domain.ChildWindow) (ports.ChildLookup, error) {
					found := ports.ChildLookup{Recent: domain.ChildCount{N: 1, LastToLeave: specNow.Add(-time.Minute)}}
					if !old.Expires.Before(q.MinExpiration) {
						found.Key = old.Token.Key
					}
					return found, nil
				}).Times(units)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil).Times(units)

			holder, ws := startHerd(t, f, entered,
				func() (domain.Token, error) {
					return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 20*time.Hour)
				},
				func() (domain.Token, error) {
					return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", tt.waiterLifetime)
				})
			close(release)
			if r := <-holder; !errors.Is(r.err, domain.ErrTooManyChildren) {
				t.Fatalf("holder got %v, %v; want %v", r.token.Key, r.err, domain.ErrTooManyChildren)
			}
			r := <-ws[0]
			switch {
			case tt.wantReuse && (r.err != nil || r.token != old.Token):
				t.Fatalf("waiter got %v, %v; want the child %v its own lookup finds", r.token.Key, r.err, old.Token.Key)
			case !tt.wantReuse && !errors.Is(r.err, domain.ErrTooManyChildren):
				t.Fatalf("waiter got %v, %v; want the holder's %v", r.token.Key, r.err, domain.ErrTooManyChildren)
			}
		})
	}
}

// countsWith is the observer's counts with only what edit sets.
func countsWith(edit func(c *memory.Counts)) memory.Counts {
	var c memory.Counts
	edit(&c)
	return c
}

// A waiter takes a child the holder read from the token store only if the
// read began after the waiter's request did: a request that began after a
// revocation was acknowledged must not be handed the child as read before
// it. It reads the token store itself, as it would have without the
// holder.
func TestRule6WaiterTakesNoChildReadBeforeItCame(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-time.Hour), 24*time.Hour)
	f.expectLookupFinds(old.Token.Key)
	reading, release := make(chan struct{}), make(chan struct{})
	f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).DoAndReturn(func(context.Context, string) (domain.TokenData, error) {
		close(reading)
		<-release
		return old, nil // as it was when the read began
	})
	// Revoked meanwhile: the waiter's own read finds nothing, and it makes
	// a child of its own.
	f.store.EXPECT().Get(gomock.Any(), old.Token).Return(domain.TokenData{}, ports.ErrNotFound)
	var created domain.TokenData
	f.expectCreate(&created)

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	holder := goRequest(request)
	<-reading
	time.Sleep(time.Millisecond) // the waiter's request begins strictly after the read
	waiter := goRequest(request)
	waitFor(t, func() bool { return f.svc.flights.Waiting() == 1 })
	close(release)
	if r := <-holder; r.err != nil || r.token != old.Token {
		t.Fatalf("holder got %v, %v; want the child it read, %v", r.token.Key, r.err, old.Token.Key)
	}
	if r := <-waiter; r.err != nil || r.token != created.Token {
		t.Fatalf("waiter got %v, %v; want a child of its own, not the one read before it came", r.token.Key, r.err)
	}
}

// steppedRepository is the in-memory repository with a hook at the start
// of the next BeginDeferred and one after the next commit that succeeds.
type steppedRepository struct {
	*memory.Repository
	mu          sync.Mutex
	beforeBegin func()
	afterCommit func()
}

// take returns *hook and clears it, under r.mu.
func (r *steppedRepository) take(hook *func()) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := *hook
	*hook = nil
	return f
}

func (r *steppedRepository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	if f := r.take(&r.beforeBegin); f != nil {
		f()
	}
	tx, err := r.Repository.BeginDeferred(ctx, lock)
	if err != nil {
		return nil, err
	}
	return &steppedTx{RepositoryTx: tx, r: r}, nil
}

type steppedTx struct {
	ports.RepositoryTx
	r *steppedRepository
}

func (tx *steppedTx) Commit(ctx context.Context) error {
	if err := tx.RepositoryTx.Commit(ctx); err != nil {
		return err
	}
	if f := tx.r.take(&tx.r.afterCommit); f != nil {
		f()
	}
	return nil
}

// newSteppedWorld is newMemoryWorld over a steppedRepository.
func newSteppedWorld(t *testing.T) (*memoryWorld, *steppedRepository) {
	t.Helper()
	w := newMemoryWorld(t, 100)
	r := &steppedRepository{Repository: w.repo}
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.svc, err = NewTokenCacheService(Config{TokenLifetime: specLifetime}, w.store, r, caches, memory.SystemClock{}, w.observer, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.svc.Close)
	return w, r
}

// A notebook child fits a request whose parent has at least its scopes, and
// the cache key does not hold the parent's scopes: the same parent seen
// before and after it lost a scope asks for the same child. The holder
// refused a new child because it passed over one whose scopes its parent
// lacks; a waiter whose parent has them would reuse that child, which is
// never refused.
func TestRule6BudgetRefusalIsNotSharedWithAWaiterOfBroaderScopes(t *testing.T) {
	w, r := newSteppedWorld(t)
	p := w.addParent(t)
	narrowed := p
	narrowed.Scopes = p.Scopes[:1]
	ctx := context.Background()
	old, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.svc.budget = domain.ChildBudget{Max: 1, Window: time.Hour}
	w.svc.cacheFor(domain.TokenTypeNotebook).Clear() // as on another replica

	entered, release := make(chan struct{}), make(chan struct{})
	r.beforeBegin = func() { close(entered); <-release }
	holder := goRequest(func() (domain.Token, error) { return w.svc.GetNotebookToken(ctx, narrowed, "192.0.2.1", 0) })
	<-entered
	waiter := goRequest(func() (domain.Token, error) { return w.svc.GetNotebookToken(ctx, p, "192.0.2.2", 0) })
	waitFor(t, func() bool { return w.svc.flights.Waiting() == 1 })
	close(release)
	if r := <-holder; !errors.Is(r.err, domain.ErrTooManyChildren) {
		t.Fatalf("the holder, its parent without some of the child's scopes, got %v, %v; want %v", r.token.Key, r.err, domain.ErrTooManyChildren)
	}
	if r := <-waiter; r.err != nil || r.token != old {
		t.Fatalf("the waiter got %v, %v; want %v, which its own lookup finds", r.token.Key, r.err, old.Key)
	}
}

// A child the holder made is visible to others from its write on, and may
// be revoked before the holder hands it over: a request that began after
// that must not be handed it, as it is not handed a child read before it
// came (TestRule6WaiterTakesNoChildReadBeforeItCame).
func TestRule6WaiterTakesNoChildMadeBeforeItCame(t *testing.T) {
	w, r := newSteppedWorld(t)
	p := w.addParent(t)
	ctx := context.Background()
	var waiter <-chan result
	var revoked string
	r.afterCommit = func() {
		// The rows are committed: a revocation may find the child and
		// delete it. Only then does the next request begin.
		children := w.repo.Children(p.Token.Key)
		if len(children) != 1 {
			t.Errorf("children of the parent: %v, want one", children)
			return
		}
		revoked = children[0]
		if err := w.store.Delete(ctx, revoked); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Millisecond) // the request begins strictly after
		waiter = goRequest(func() (domain.Token, error) { return w.svc.GetNotebookToken(ctx, p, "192.0.2.2", 0) })
		waitFor(t, func() bool { return w.svc.flights.Waiting() == 1 })
	}
	if _, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	if waiter == nil {
		t.Fatal("no commit")
	}
	got := <-waiter
	if got.err != nil {
		t.Fatalf("the waiter: %v", got.err)
	}
	if got.token.Key == revoked {
		t.Fatalf("the waiter, which began after child %s was revoked, was handed it", revoked)
	}
	if _, err := w.store.Get(ctx, got.token); err != nil {
		t.Fatalf("the waiter's child is not in the token store: %v", err)
	}
}
