package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Rule 10: a parent may create at most MaxChildrenPerParent children within
// ChildrenWindow. Under the child's repository lock, the lookup also counts
// the parent's children created within the window, in the same call; when
// it has found nothing to reuse and they are as many as the bound, nothing
// is written and the error wraps domain.ErrTooManyChildren. Reuse is never
// refused.

// newBudgetFixture is the spec fixture with a service bounded to
// maxChildren children per window.
func newBudgetFixture(t *testing.T, maxChildren int, window time.Duration) *fixture {
	t.Helper()
	f := newFixture(t)
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TokenLifetime: specLifetime, MaxChildrenPerParent: maxChildren, ChildrenWindow: window}
	f.svc, err = NewTokenCacheService(cfg, f.store, f.repo, caches, f.clock, f.observer, slog.New(slog.NewJSONHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRule10ChildrenCountedWithTheLookupBeforeWriting(t *testing.T) {
	for _, tt := range []struct {
		name        string
		maxChildren int           // as configured
		window      time.Duration // as configured
		wantWindow  domain.ChildWindow
		counted     int // children the repository counts: one fewer than the bound
	}{
		// The window starts at a whole second (see domain.ChildBudget.Since).
		{"defaults: 100 an hour", 0, 0, domain.ChildWindow{Since: specNow.Add(-time.Hour).Truncate(time.Second), Max: 100}, 99},
		{"configured", 3, 15 * time.Minute, domain.ChildWindow{Since: specNow.Add(-15 * time.Minute).Truncate(time.Second), Max: 3}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newBudgetFixture(t, tt.maxChildren, tt.window)
			p := parent(t)
			lock := domain.InternalCacheKey(p, "portal", []string{"read:all"})
			f.repo.EXPECT().BeginDeferred(gomock.Any(), lock).Return(f.tx, nil)
			wantQuery := domain.ChildQuery{
				ParentKey: p.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
				Scopes: []string{"read:all"}, MinExpiration: specLifeFrom.Add(specLifetime / 2),
			}
			lookUp := f.tx.EXPECT().LookUpChild(gomock.Any(), wantQuery, tt.wantWindow).
				Return(ports.ChildLookup{Recent: domain.ChildCount{N: tt.counted}}, nil)
			// Written to both stores at once, committed once both have it.
			stored := f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil).After(lookUp)
			added := f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil).After(lookUp)
			f.tx.EXPECT().Commit(gomock.Any()).Return(nil).After(stored).After(added)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
			if _, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0); err != nil {
				t.Fatalf("one below the bound: %v", err)
			}
			if c := f.observer.Counts(); c.Created != 1 || c.Refused != 0 {
				t.Fatalf("observer counts = %+v, want 1 created", c)
			}
		})
	}
}

func TestRule10FullBudgetWritesNothing(t *testing.T) {
	f := newBudgetFixture(t, 3, time.Hour)
	p := parent(t)
	earliest := specNow.Add(-20 * time.Minute).Truncate(time.Second)
	for range 2 { // a refusal is not cached: the next request asks again
		f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
		f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).
			Return(ports.ChildLookup{Recent: domain.ChildCount{N: 3, LastToLeave: earliest}}, nil)
		f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
		// No Store, AddToken, Commit or Delete is expected.

		_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
		if !errors.Is(err, domain.ErrTooManyChildren) {
			t.Fatalf("err = %v, want ErrTooManyChildren", err)
		}
		var tooMany *domain.TooManyChildrenError
		if !errors.As(err, &tooMany) || !tooMany.RetryAt.Equal(earliest.Add(time.Hour+time.Second)) {
			t.Fatalf("err = %#v; want a *TooManyChildrenError to retry at %v", err, earliest.Add(time.Hour+time.Second))
		}
		for _, forbidden := range []error{domain.ErrInvalidRequest, domain.ErrInvalidToken, domain.ErrPermissionDenied, domain.ErrInsufficientLifetime} {
			if errors.Is(err, forbidden) {
				t.Fatalf("err = %v also wraps %v", err, forbidden)
			}
		}
	}
	if c := f.observer.Counts(); c.Refused != 2 || c.Created != 0 || c.StoreErrors != 0 {
		t.Fatalf("observer counts = %+v, want 2 refused and nothing else", c)
	}
}

func TestRule10ReuseIsNeverRefused(t *testing.T) {
	f := newBudgetFixture(t, 1, time.Hour)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	// The lookup counts one child, the one it finds: a parent at its
	// budget still gets the children it has.
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).
		Return(ports.ChildLookup{Key: child.Token.Key, Recent: domain.ChildCount{N: 1, LastToLeave: child.Created}}, nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the existing child %v", got.Key, err, child.Token.Key)
	}
	if c := f.observer.Counts(); c.Refused != 0 {
		t.Fatalf("observer counts = %+v, want nothing refused", c)
	}
}

func TestRule10CountFailureIsStoreFailure(t *testing.T) {
	f := newBudgetFixture(t, 3, time.Hour)
	p := parent(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).Return(ports.ChildLookup{}, errUnreachable)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if !errors.Is(err, errUnreachable) || errors.Is(err, domain.ErrTooManyChildren) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if c := f.observer.Counts(); c.StoreErrors != 1 || c.Refused != 0 {
		t.Fatalf("observer counts = %+v, want 1 store error", c)
	}
	wantStoreErrors(t, f.observer, map[string]int{"repository.find": 1})
}

func TestRule10NegativeBoundCountsNothing(t *testing.T) {
	f := newBudgetFixture(t, -1, 0)
	var stored domain.TokenData
	f.expectCreate(&stored) // FindChild: nothing to count
	if _, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
}

func TestRule10NegativeWindowIsRefused(t *testing.T) {
	if _, _, err := InitializeInMemory(Config{ChildrenWindow: -time.Second}); err == nil {
		t.Fatal("InitializeInMemory accepted a negative children window")
	}
}

func TestRule10WindowSlidesOnMemoryStores(t *testing.T) {
	ctx := context.Background()
	w := newBudgetWorld(t, specNow)
	clock, store, repo := w.clock, w.store, w.repo
	svc := w.service(t, 3, time.Hour)
	p := w.parent(t)
	ask := func(service string) (domain.Token, error) {
		return svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0)
	}

	first, err := ask("service-0")
	if err != nil {
		t.Fatal(err)
	}
	firstCreated := clock.Now().Truncate(time.Second)
	for _, service := range []string{"service-1", "service-2"} {
		clock.Advance(10 * time.Minute)
		if _, err := ask(service); err != nil {
			t.Fatalf("%s: %v", service, err)
		}
	}
	_, err = ask("service-3")
	var tooMany *domain.TooManyChildrenError
	if !errors.As(err, &tooMany) {
		t.Fatalf("fourth child within the hour: %v, want ErrTooManyChildren", err)
	}
	if want := firstCreated.Add(time.Hour + time.Second); !tooMany.RetryAt.Equal(want) {
		t.Fatalf("retry at %v, want %v", tooMany.RetryAt, want)
	}
	if err := svc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if again, err := ask("service-0"); err != nil || again != first {
		t.Fatalf("an existing child over the budget: %v, %v; want it found in the repository and reused", again.Key, err)
	}
	clock.Set(tooMany.RetryAt)
	if _, err := ask("service-3"); err != nil {
		t.Fatalf("once the first child left the window: %v", err)
	}
	if _, err := ask("service-4"); !errors.Is(err, domain.ErrTooManyChildren) {
		t.Fatalf("again three within the hour: %v, want ErrTooManyChildren", err)
	}
	if n := len(repo.Children(p.Token.Key)); n != 4 {
		t.Fatalf("%d children recorded, want 4", n)
	}
	if n := store.Len(); n != 5 {
		t.Fatalf("token store holds %d tokens, want 5 (the parent and its 4 children): a refusal writes nothing", n)
	}
}

// The first lookup goes with the repository's lock (BeginDeferred) and may
// wait for it, so the window it counts in starts before the wait. When
// that count would refuse a creation although a child it counted has left
// the window by the time the lock is held, the children are counted again:
// a creation the budget allows as of then is made, not refused with a
// Retry-After already past.
func TestRule10WindowIsCountedAgainAfterTheLockWait(t *testing.T) {
	const window, wait = time.Hour, time.Minute
	f := newBudgetFixture(t, 3, window)
	p := parent(t)
	// The parent's children of other keys, oldest first: the oldest leaves
	// the window during the wait.
	created := []time.Time{specNow.Add(-window + 10*time.Second), specNow.Add(-20 * time.Minute), specNow.Add(-10 * time.Minute)}
	count := func(w domain.ChildWindow) domain.ChildCount {
		var in []time.Time
		for _, at := range created {
			if !at.Before(w.Since) {
				in = append(in, at)
			}
		}
		c := domain.ChildCount{N: len(in)}
		if len(in) >= w.Max {
			c.LastToLeave = in[len(in)-w.Max]
		}
		return c
	}
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	lookups := 0
	f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).MinTimes(1).DoAndReturn(
		func(_ context.Context, _ domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
			if lookups++; lookups == 1 {
				f.clock.Advance(wait) // waiting for the lock, the statement's since already sent
			}
			// As PostgreSQL counts: created >= since, as sent.
			return ports.ChildLookup{Recent: count(w)}, nil
		})
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil).MaxTimes(1)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil).MaxTimes(1)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil).MaxTimes(1)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)

	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	var tooMany *domain.TooManyChildrenError
	if errors.As(err, &tooMany) {
		t.Fatalf("refused at %v with %d children in the window [%v, now) as of the lock (Retry-After %v, %v before now): %v",
			f.clock.Now().Format(time.TimeOnly), count(domain.ChildWindow{Since: f.clock.Now().Add(-window), Max: 3}).N, f.clock.Now().Add(-window).Format(time.TimeOnly),
			tooMany.RetryAt.Format(time.TimeOnly), f.clock.Now().Sub(tooMany.RetryAt), err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A child made at 12:00:00.9 is stored as made at 12:00:00: it counts until
// 13:00:01, when its Retry-After says one more may be made, and not only
// until 13:00:00, which let a parent bound to one child an hour make two
// 59m59.2s apart.
func TestRule10WindowCountsAChildForAsLongAsItMayBeWithin(t *testing.T) {
	w := newBudgetWorld(t, specNow.Truncate(time.Second).Add(900*time.Millisecond))
	clock := w.clock
	svc := w.service(t, 1, time.Hour)
	p := w.parent(t)
	ask := func(service string) error { return askInternal(svc, p, service) }
	first := clock.Now()
	if err := ask("a"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour - 800*time.Millisecond)
	var tooMany *domain.TooManyChildrenError
	if err := ask("b"); !errors.As(err, &tooMany) {
		t.Fatalf("a second child %v after the first, bound 1 an hour: %v, want %v", clock.Now().Sub(first), err, domain.ErrTooManyChildren)
	}
	clock.Set(tooMany.RetryAt)
	if err := ask("b"); err != nil {
		t.Fatalf("at the Retry-After given (%v): %v", tooMany.RetryAt.Format(time.TimeOnly), err)
	}
}

// A parent may hold more children in the window than the bound: made by
// Gafaelfawr, which has no bound, by creations running at once (the
// overshoot childBudget explains), or before the bound was lowered. Its
// Retry-After is then when enough of them have left the window for one
// more, the bound-th newest, not when the oldest has.
func TestRule10RetryAfterWithMoreChildrenThanTheBound(t *testing.T) {
	w := newBudgetWorld(t, specNow)
	clock := w.clock
	unbounded, bounded := w.service(t, -1, time.Hour), w.service(t, 2, time.Hour)
	p := w.parent(t)
	ask := func(svc *TokenCacheService, service string) error { return askInternal(svc, p, service) }
	var made []time.Time
	for _, service := range []string{"a", "b", "c"} {
		if err := ask(unbounded, service); err != nil {
			t.Fatalf("%s: %v", service, err)
		}
		made = append(made, clock.Now().Truncate(time.Second))
		clock.Advance(10 * time.Minute)
	}
	var tooMany *domain.TooManyChildrenError
	if err := ask(bounded, "d"); !errors.As(err, &tooMany) {
		t.Fatalf("a fourth child with three in the hour, bound 2: %v, want %v", err, domain.ErrTooManyChildren)
	}
	// Room for one more once only one is left: when the second leaves.
	if want := made[1].Add(time.Hour + time.Second); !tooMany.RetryAt.Equal(want) {
		t.Errorf("Retry-After %v, want %v: the second child's leaving the window", tooMany.RetryAt.Format(time.TimeOnly), want.Format(time.TimeOnly))
	}
	clock.Set(tooMany.RetryAt.Add(-time.Second))
	if err := ask(bounded, "d"); !errors.Is(err, domain.ErrTooManyChildren) {
		t.Errorf("a second before the Retry-After given: %v, want %v", err, domain.ErrTooManyChildren)
	}
	clock.Set(tooMany.RetryAt)
	if err := ask(bounded, "d"); err != nil {
		t.Fatalf("at the Retry-After given (%v): %v", tooMany.RetryAt.Format(time.TimeOnly), err)
	}
}

// A window that is not whole seconds (--children-window takes any positive
// duration): the Retry-After is the first whole second at which the child
// that fills the budget has left the window, not a second before.
func TestRule10RetryAfterWithAFractionalWindow(t *testing.T) {
	w := newBudgetWorld(t, specNow)
	clock := w.clock
	window := time.Hour + 500*time.Millisecond
	svc := w.service(t, 1, window)
	p := w.parent(t)
	ask := func(service string) error { return askInternal(svc, p, service) }
	if err := ask("a"); err != nil {
		t.Fatal(err)
	}
	var tooMany *domain.TooManyChildrenError
	if err := ask("b"); !errors.As(err, &tooMany) {
		t.Fatalf("a second child, bound 1: %v, want %v", err, domain.ErrTooManyChildren)
	}
	clock.Set(tooMany.RetryAt.Add(-time.Second))
	if err := ask("b"); !errors.Is(err, domain.ErrTooManyChildren) {
		t.Errorf("a second before the Retry-After given (%v): %v, want %v", tooMany.RetryAt.Format(time.TimeOnly), err, domain.ErrTooManyChildren)
	}
	clock.Set(tooMany.RetryAt)
	if err := ask("b"); err != nil {
		t.Fatalf("at the Retry-After given (%v), the first child made at %v with a window of %v: %v",
			tooMany.RetryAt.Format(time.TimeOnly), specNow.Truncate(time.Second).Format(time.TimeOnly), window, err)
	}
}

// budgetWorld is a manual clock and memory stores that several services,
// each with its own child budget, may share.
type budgetWorld struct {
	clock *memory.ManualClock
	store *memory.TokenStore
	repo  *memory.Repository
}

func newBudgetWorld(t *testing.T, now time.Time) *budgetWorld {
	t.Helper()
	clock := memory.NewManualClock(now)
	return &budgetWorld{clock: clock, store: memory.NewTokenStore(clock), repo: memory.NewRepositoryWithClock(clock)}
}

// service is a service on w's stores bounded to maxChildren children per
// window, closed when the test ends.
func (w *budgetWorld) service(t *testing.T, maxChildren int, window time.Duration) *TokenCacheService {
	t.Helper()
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TokenLifetime: specLifetime, MaxChildrenPerParent: maxChildren, ChildrenWindow: window}
	svc, err := NewTokenCacheService(cfg, w.store, w.repo, caches, w.clock, memory.NewObserver(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// parent is a new parent token, in both of w's stores.
func (w *budgetWorld) parent(t *testing.T) domain.TokenData {
	t.Helper()
	p := parent(t)
	putParent(t, w.store, w.repo, p)
	return p
}

// askInternal asks svc for p's internal child for service.
func askInternal(svc *TokenCacheService, p domain.TokenData, service string) error {
	_, err := svc.GetInternalToken(context.Background(), p, service, []string{"read:all"}, "192.0.2.1", 0)
	return err
}
