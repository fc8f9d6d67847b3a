package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Rule 6, abandoned work: work whose caller has left, and that no other request
// waits for, still finishes, but before each repository step it lets the
// work that callers wait for go first, for at most a bounded time in all.
// A request that comes to wait for abandoned work makes it live again.

// gatedRepository is the in-memory repository whose BeginDeferred, for
// the keys given a gate, waits until the gate is opened, and which counts
// the lookups made in each key's transactions.
type gatedRepository struct {
	*memory.Repository
	mu      sync.Mutex
	gates   map[domain.CacheKey]*gate
	lookups map[domain.CacheKey]*atomic.Int64
}

type gate struct {
	entered chan struct{} // closed when BeginDeferred arrives at the gate
	open    func()        // lets BeginDeferred through
	opened  chan struct{}
}

func newGatedRepository() *gatedRepository {
	return &gatedRepository{
		Repository: memory.NewRepository(),
		gates:      make(map[domain.CacheKey]*gate),
		lookups:    make(map[domain.CacheKey]*atomic.Int64),
	}
}

// gate makes the next BeginDeferred for key wait until the returned gate
// is opened; the gate opens at t's cleanup at the latest.
func (r *gatedRepository) gate(t *testing.T, key domain.CacheKey) *gate {
	t.Helper()
	g := &gate{entered: make(chan struct{}), opened: make(chan struct{})}
	g.open = sync.OnceFunc(func() { close(g.opened) })
	t.Cleanup(g.open)
	r.mu.Lock()
	r.gates[key] = g
	r.mu.Unlock()
	return g
}

// lookupsFor is how many lookups the transactions for key have made.
func (r *gatedRepository) lookupsFor(key domain.CacheKey) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.lookups[key]; n != nil {
		return n.Load()
	}
	return 0
}

func (r *gatedRepository) BeginDeferred(ctx context.Context, key domain.CacheKey) (ports.RepositoryTx, error) {
	r.mu.Lock()
	g := r.gates[key]
	delete(r.gates, key)
	n := r.lookups[key]
	if n == nil {
		n = new(atomic.Int64)
		r.lookups[key] = n
	}
	r.mu.Unlock()
	if g != nil {
		close(g.entered)
		<-g.opened
	}
	tx, err := r.Repository.BeginDeferred(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countedTx{RepositoryTx: tx, lookups: n}, nil
}

type countedTx struct {
	ports.RepositoryTx
	lookups *atomic.Int64
}

func (tx *countedTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	tx.lookups.Add(1)
	return tx.RepositoryTx.FindChild(ctx, q)
}

func (tx *countedTx) LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
	tx.lookups.Add(1)
	return tx.RepositoryTx.LookUpChild(ctx, q, w)
}

// abandonWorld is the service over the in-memory token store and a gated
// repository, with two parents in both stores: one whose request's caller
// leaves (abandoned) and one whose caller waits (live).
type abandonWorld struct {
	svc               *TokenCacheService
	repo              *gatedRepository
	abandoned, live   domain.TokenData
	abandonedKey      domain.CacheKey
	liveKey           domain.CacheKey
	abandonedFinished chan struct{}
}

func newAbandonWorld(t *testing.T, yieldLimit time.Duration) *abandonWorld {
	t.Helper()
	clock := memory.SystemClock{}
	store := memory.NewTokenStore(clock)
	w := &abandonWorld{repo: newGatedRepository()}
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.svc, err = NewTokenCacheService(Config{TokenLifetime: specLifetime}, store, w.repo, caches, clock, memory.NewObserver(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.svc.Close)
	w.svc.abandonedYieldLimit = yieldLimit
	mw := &memoryWorld{svc: w.svc, store: store, repo: w.repo.Repository}
	w.abandoned, w.live = mw.addParent(t), mw.addParent(t)
	w.abandonedKey, w.liveKey = notebookKey(w.abandoned), notebookKey(w.live)
	return w
}

func notebookKey(p domain.TokenData) domain.CacheKey {
	req := domain.NewNotebookRequest(p, "192.0.2.1", 0)
	return req.CacheKey()
}

func (w *abandonWorld) request(ctx context.Context, p domain.TokenData) (domain.Token, error) {
	return w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
}

// startLive starts a request for the live parent's child, held in
// BeginDeferred until the returned gate opens.
func (w *abandonWorld) startLive(t *testing.T) (*gate, <-chan result) {
	t.Helper()
	g := w.repo.gate(t, w.liveKey)
	answer := goRequest(func() (domain.Token, error) { return w.request(context.Background(), w.live) })
	<-g.entered
	return g, answer
}

// abandonWork starts a request for the abandoned parent's child whose
// caller leaves while its work is in BeginDeferred, and returns the gate
// that holds that work there.
func (w *abandonWorld) abandonWork(t *testing.T) *gate {
	t.Helper()
	g := w.repo.gate(t, w.abandonedKey)
	leave(t, g.entered, func(ctx context.Context) (domain.Token, error) { return w.request(ctx, w.abandoned) })
	return g
}

// yielding is how many pieces of abandoned work are letting live work go
// first.
func (w *abandonWorld) yielding() int {
	w.svc.live.mu.Lock()
	defer w.svc.live.mu.Unlock()
	return w.svc.live.yielding
}

// drain waits for all the detached work to end.
func (w *abandonWorld) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := w.svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
}

// childOf fails t unless the repository holds exactly one child of p.
func (w *abandonWorld) childOf(t *testing.T, p domain.TokenData) {
	t.Helper()
	if n := len(w.repo.Children(p.Token.Key)); n != 1 {
		t.Fatalf("%d children of the parent recorded, want 1", n)
	}
}

func TestRule6AbandonedWorkLetsLiveWorkGoFirst(t *testing.T) {
	w := newAbandonWorld(t, guard)
	liveGate, liveAnswer := w.startLive(t)
	w.abandonWork(t).open()

	waitFor(t, func() bool { return w.yielding() == 1 })
	if n := w.repo.lookupsFor(w.abandonedKey); n != 0 {
		t.Fatalf("the abandoned work looked up its child %d times while live work ran, want 0", n)
	}
	liveGate.open()
	if r := <-liveAnswer; r.err != nil {
		t.Fatalf("the live request: %v", r.err)
	}
	w.drain(t)
	if n := w.repo.lookupsFor(w.abandonedKey); n != 1 {
		t.Fatalf("the abandoned work looked up its child %d times once the live work ended, want 1", n)
	}
	w.childOf(t, w.abandoned)
	w.childOf(t, w.live)
}

func TestRule6AbandonedWorkYieldsForABoundedTime(t *testing.T) {
	const limit = 30 * time.Millisecond
	w := newAbandonWorld(t, limit)
	liveGate, liveAnswer := w.startLive(t)
	began := time.Now()
	w.abandonWork(t).open()

	// The live work never ends meanwhile: the abandoned work goes on after the
	// limit and finishes.
	w.drainAbandoned(t)
	if waited := time.Since(began); waited < limit {
		t.Fatalf("the abandoned work finished after %v, before its limit of %v", waited, limit)
	}
	w.childOf(t, w.abandoned)
	liveGate.open()
	if r := <-liveAnswer; r.err != nil {
		t.Fatalf("the live request: %v", r.err)
	}
}

// drainAbandoned waits until the abandoned work's child is recorded, the live work
// still held.
func (w *abandonWorld) drainAbandoned(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool { return len(w.repo.Children(w.abandoned.Token.Key)) == 1 })
}

func TestRule6AWaiterMakesAbandonedWorkLiveAgain(t *testing.T) {
	w := newAbandonWorld(t, guard)
	liveGate, liveAnswer := w.startLive(t)
	w.abandonWork(t).open()
	waitFor(t, func() bool { return w.yielding() == 1 })

	// The client comes back for the same child: the work is no longer
	// abandoned and goes on at once, though the live work is still held.
	again := goRequest(func() (domain.Token, error) { return w.request(context.Background(), w.abandoned) })
	select {
	case r := <-again:
		if r.err != nil {
			t.Fatalf("the request that came back: %v", r.err)
		}
	case <-time.After(guard / 2):
		t.Fatal("the request that came back waited for the live work")
	}
	w.childOf(t, w.abandoned)
	liveGate.open()
	if r := <-liveAnswer; r.err != nil {
		t.Fatalf("the live request: %v", r.err)
	}
}

// A caller's next request tends to follow its departure at once: work
// whose caller has just left waits for a quiet moment, and live work that
// begins within it goes first.
func TestRule6AbandonedWorkLetsLiveWorkThatBeginsJustAfterGoFirst(t *testing.T) {
	w := newAbandonWorld(t, guard)
	w.svc.abandonedQuiet = 500 * time.Millisecond
	w.abandonWork(t).open()
	time.Sleep(20 * time.Millisecond) // well within the quiet moment
	liveGate, liveAnswer := w.startLive(t)

	waitFor(t, func() bool { return w.yielding() == 1 })
	if n := w.repo.lookupsFor(w.abandonedKey); n != 0 {
		t.Fatalf("the abandoned work looked up its child %d times although live work began just after its caller left, want 0", n)
	}
	liveGate.open()
	if r := <-liveAnswer; r.err != nil {
		t.Fatalf("the live request: %v", r.err)
	}
	w.drain(t)
	w.childOf(t, w.abandoned)
	w.childOf(t, w.live)
}

// A caller whose context has ended has left, though its goroutine has not
// yet run to say so: the work it started yields from that instant.
func TestHandoffCallerLeavesWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHandoff(ctx)
	if h.hasLeft() {
		t.Fatal("the caller counts as gone before its context ended")
	}
	cancel()
	if !h.hasLeft() {
		t.Fatal("the caller whose context ended does not count as gone")
	}
	// Delivery is the caller's own business: until it has said it left, the
	// work's end is still handed to it.
	if !h.deliver(ended{}) {
		t.Fatal("the work's end was not handed to a caller that had not yet said it left")
	}
}

func TestRule6AbandonedWorkWithoutLiveWorkDoesNotWait(t *testing.T) {
	w := newAbandonWorld(t, guard)
	w.abandonWork(t).open()
	w.drainAbandoned(t) // well before guard, the yield limit
	if n := w.yielding(); n != 0 {
		t.Fatalf("%d pieces of abandoned work yielding with no live work, want 0", n)
	}
}

func TestLiveWorkYield(t *testing.T) {
	always := func() bool { return true }
	later := func() time.Time { return time.Now().Add(guard) }
	ended := func(yield func()) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			yield()
		}()
		return done
	}
	returns := func(t *testing.T, done <-chan struct{}, why string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(guard / 2):
			t.Fatalf("yield did not return %s", why)
		}
	}
	waits := func(t *testing.T, done <-chan struct{}, why string) {
		t.Helper()
		select {
		case <-done:
			t.Fatalf("yield returned %s", why)
		case <-time.After(20 * time.Millisecond):
		}
	}

	t.Run("no live work", func(t *testing.T) {
		l := newLiveWork(20)
		returns(t, ended(func() { l.yield(context.Background(), later(), time.Time{}, always) }), "with no live work")
	})
	t.Run("until the live work leaves", func(t *testing.T) {
		l := newLiveWork(20)
		first, second := l.enter(), l.enter()
		done := ended(func() { l.yield(context.Background(), later(), time.Time{}, always) })
		first()
		waits(t, done, "while live work was left")
		second()
		returns(t, done, "once the live work had left")
		third := l.enter()
		defer third()
		waits(t, ended(func() { l.yield(context.Background(), later(), time.Time{}, always) }), "with live work, after an earlier yield")
	})
	t.Run("a quiet moment after its caller left", func(t *testing.T) {
		l := newLiveWork(20)
		first := l.enter()
		quietUntil := time.Now().Add(300 * time.Millisecond)
		done := ended(func() { l.yield(context.Background(), later(), quietUntil, always) })
		first()
		waits(t, done, "with no live work, before the quiet moment had passed")
		second := l.enter()
		time.Sleep(time.Until(quietUntil))
		waits(t, done, "while live work that began in the quiet moment ran")
		second()
		returns(t, done, "once the quiet moment had passed and the live work left")
		returns(t, ended(func() { l.yield(context.Background(), later(), time.Now().Add(-time.Millisecond), always) }),
			"with no live work, the quiet moment past")
	})
	t.Run("under a steady stream, only while live work runs", func(t *testing.T) {
		l := newLiveWork(20)
		stop := make(chan struct{})
		streaming := make(chan struct{})
		go func() { // live work 2 ms at a time, with gaps of 0.3 ms
			defer close(streaming)
			for {
				select {
				case <-stop:
					return
				default:
				}
				leave := l.enter()
				time.Sleep(2 * time.Millisecond)
				leave()
				for gap := time.Now(); time.Since(gap) < 300*time.Microsecond; {
				}
			}
		}()
		defer func() { close(stop); <-streaming }()
		returns(t, ended(func() { l.yield(context.Background(), later(), time.Now(), always) }), "in a gap between live work")
	})
	t.Run("until the limit", func(t *testing.T) {
		l := newLiveWork(20)
		defer l.enter()()
		returns(t, ended(func() { l.yield(context.Background(), time.Now().Add(10*time.Millisecond), time.Time{}, always) }), "at its limit")
	})
	t.Run("until ctx ends", func(t *testing.T) {
		l := newLiveWork(20)
		defer l.enter()()
		ctx, cancel := context.WithCancel(context.Background())
		done := ended(func() { l.yield(ctx, later(), time.Time{}, always) })
		waits(t, done, "before ctx ended")
		cancel()
		returns(t, done, "when ctx ended")
	})
	t.Run("until no longer abandoned", func(t *testing.T) {
		l := newLiveWork(20)
		defer l.enter()()
		var adopted atomic.Bool
		done := ended(func() { l.yield(context.Background(), later(), time.Time{}, func() bool { return !adopted.Load() }) })
		waits(t, done, "while still abandoned")
		adopted.Store(true)
		returns(t, done, "when no longer abandoned")
	})
	t.Run("a quarter of the connections at most", func(t *testing.T) {
		l := newLiveWork(8) // two may yield
		defer l.enter()()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := ended(func() { l.yield(ctx, later(), time.Time{}, always) })
		second := ended(func() { l.yield(ctx, later(), time.Time{}, always) })
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.yielding == 2 })
		returns(t, ended(func() { l.yield(ctx, later(), time.Time{}, always) }), "at once with two pieces of abandoned work yielding")
		waits(t, first, "for no reason")
		cancel()
		returns(t, first, "when ctx ended")
		returns(t, second, "when ctx ended")
		if n := newLiveWork(1).maxYielding; n != 1 {
			t.Fatalf("maxYielding for one connection = %d, want 1", n)
		}
	})
}
