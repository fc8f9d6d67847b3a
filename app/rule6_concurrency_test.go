package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
	"github.com/tokencache/tokencache/ports"
)

// Rule 6: any number of goroutines; one creation per cache key; different
// keys never wait for each other; waiters give up with their context; the
// lock table does not grow. Waiters taking the holder's outcome are in
// rule6_herd_test.go; callers that leave, in rule6_detached_test.go.

// memoryWorld is the service over the in-memory adapters with one parent
// already in both stores.
type memoryWorld struct {
	svc      *TokenCacheService
	store    *memory.TokenStore
	repo     *memory.Repository
	observer *memory.Observer
}

func newMemoryWorld(t *testing.T, cacheSize int) *memoryWorld {
	t.Helper()
	clock := memory.SystemClock{}
	w := &memoryWorld{
		store:    memory.NewTokenStore(clock),
		repo:     memory.NewRepository(),
		observer: memory.NewObserver(),
	}
	caches, err := ProvideMemoryCaches(Config{CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.svc, err = NewTokenCacheService(Config{TokenLifetime: specLifetime}, w.store, w.repo, caches, clock, w.observer, logger)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// addParent puts a fresh session token into both stores.
func (w *memoryWorld) addParent(t *testing.T) domain.TokenData {
	t.Helper()
	p := parent(t)
	p.Created = time.Now().UTC().Truncate(time.Second)
	p.Expires = p.Created.Add(7 * 24 * time.Hour)
	putParent(t, w.store, w.repo, p)
	return p
}

// putParent puts the parent p into both memory stores.
func putParent(t *testing.T, store *memory.TokenStore, repo *memory.Repository, p domain.TokenData) {
	t.Helper()
	ctx := context.Background()
	if err := store.Store(ctx, p); err != nil {
		t.Fatal(err)
	}
	tx, err := repo.Begin(ctx, "parent")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRule6ThousandGoroutinesCreateOneChild(t *testing.T) {
	w := newMemoryWorld(t, 100)
	p := w.addParent(t)
	const n = 1000
	tokens := make([]domain.Token, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tokens[i], errs[i] = w.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("request %d got %s, request 0 got %s", i, tokens[i].Key, tokens[0].Key)
		}
	}
	if children := w.repo.Children(p.Token.Key); len(children) != 1 {
		t.Fatalf("%d children recorded, want 1", len(children))
	}
	if c := w.observer.Counts(); c.Created != 1 {
		t.Fatalf("observer counts = %+v, want 1 created", c)
	}
	if got := w.store.Len(); got != 2 {
		t.Fatalf("token store holds %d tokens, want 2 (parent and child)", got)
	}
	if got := w.svc.flights.Len(); got != 0 {
		t.Fatalf("lock table keeps %d entries, want 0", got)
	}
}

func TestRule6ManyKeysAtOnceOneChildEach(t *testing.T) {
	w := newMemoryWorld(t, 100)
	parents := make([]domain.TokenData, 10)
	for i := range parents {
		parents[i] = w.addParent(t)
	}
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := parents[i%len(parents)]
			var err error
			if (i/len(parents))%2 == 0 {
				_, err = w.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
			} else {
				_, err = w.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, p := range parents {
		if children := w.repo.Children(p.Token.Key); len(children) != 2 {
			t.Fatalf("parent has %d children, want 2 (notebook and internal)", len(children))
		}
	}
}

// blockingBegin makes Begin for lock wait until release is closed, telling
// entered when it starts waiting.
func blockingBegin(f *fixture, lock domain.CacheKey, tx ports.RepositoryTx, entered chan<- struct{}, release <-chan struct{}) *gomock.Call {
	return f.repo.EXPECT().BeginDeferred(gomock.Any(), lock).DoAndReturn(func(context.Context, domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-release
		return tx, nil
	})
}

func TestRule6DifferentKeysOfOneUserDoNotWait(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	blockingBegin(f, domain.NotebookCacheKey(p), f.tx, entered, release)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil).Times(2)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)

	slow := make(chan error, 1)
	go func() {
		_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
		slow <- err
	}()
	<-entered

	// The notebook creation is stuck in the repository; an internal token
	// of the same user must still be served.
	other := mocks.NewMockRepositoryTx(f.ctrl)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), domain.InternalCacheKey(p, "portal", []string{"read:all"})).Return(other, nil)
	other.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	other.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	other.EXPECT().Commit(gomock.Any()).Return(nil)
	other.EXPECT().Rollback(gomock.Any()).Return(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0); err != nil {
		t.Fatalf("request for another key while one is stuck: %v", err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

func TestRule6WaiterGivesUpWhenItsContextEnds(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	blockingBegin(f, domain.NotebookCacheKey(p), f.tx, entered, release)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)

	first := make(chan error, 1)
	go func() {
		_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
		first <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, err := f.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
		waiter <- err
	}()
	waitFor(t, func() bool { return f.observer.Counts().CacheMisses == 2 })
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter returned %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := f.svc.flights.Len(); n != 0 {
		t.Fatalf("lock table keeps %d entries, want 0", n)
	}
}

// waitFor polls cond, which another goroutine will make true, failing the
// test if it stays false for seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// result is what a request running in another goroutine returned.
type result struct {
	token domain.Token
	err   error
}

// goRequest runs request in a goroutine. Its result arrives even if a
// gomock failure ends the goroutine early, so the test never hangs.
func goRequest(request func() (domain.Token, error)) <-chan result {
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		r.token, r.err = request()
	}()
	return done
}

func TestRule6HolderRechecksCacheAfterTakingLock(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, old)

	// Request A finds the cached child gone, but is slow to say so; request
	// B, finding the same, replaces it meanwhile. When A then takes the
	// lock, the cache holds B's child, and A must take it, not make a third.
	entered, release := make(chan struct{}), make(chan struct{})
	var reads atomic.Int32
	f.store.EXPECT().Get(gomock.Any(), old.Token).Times(2).DoAndReturn(func(context.Context, domain.Token) (domain.TokenData, error) {
		if reads.Add(1) == 1 {
			close(entered)
			<-release
		}
		return domain.TokenData{}, errNotFoundSpec
	})
	var created domain.TokenData
	f.expectCreate(&created) // once only
	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	a := goRequest(request)
	<-entered
	b, err := request()
	if err != nil || b != created.Token {
		t.Fatalf("B got %v, %v; want the child it created", b.Key, err)
	}
	f.store.EXPECT().Get(gomock.Any(), created.Token).Return(created, nil)
	close(release)
	if r := <-a; r.err != nil || r.token != created.Token {
		t.Fatalf("A got %v, %v; want B's child %v", r.token.Key, r.err, created.Token.Key)
	}
	if n := f.observer.Counts().Created; n != 1 {
		t.Fatalf("%d children created, want 1", n)
	}
}
