package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// A caller that leaves does not cost a connection, on the real stores: the
// work a request has begun finishes detached from it, and its child is
// cached for the next request.

// probedRepository is the real repository, watched: it counts the
// BeginDeferreds that answered, can run a function (such as a caller's
// cancel) right after a piece of work's first lookup answers, which takes
// its lock (the server's transaction is then open), and tells when a piece
// of repository work has ended (its Rollback, the service's last call on
// it).
type probedRepository struct {
	ports.TokenRepository
	begun atomic.Int64

	mu        sync.Mutex
	afterLock func()
	ended     chan struct{} // closed at the next Rollback, if set
}

func (r *probedRepository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.TokenRepository.BeginDeferred(ctx, lock)
	if err != nil {
		return nil, err
	}
	r.begun.Add(1)
	r.mu.Lock()
	after := r.afterLock
	r.afterLock = nil
	r.mu.Unlock()
	return &probedTx{RepositoryTx: tx, r: r, afterLock: after}, nil
}

// cancelAfterNextLock makes the next piece of work call cancel once its
// first lookup has answered, and returns a channel closed when that piece
// of work has ended.
func (r *probedRepository) cancelAfterNextLock(cancel func()) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.afterLock = cancel
	r.ended = make(chan struct{})
	return r.ended
}

type probedTx struct {
	ports.RepositoryTx
	r         *probedRepository
	afterLock func() // run once the first lookup has answered
}

// locked runs tx.afterLock, once.
func (tx *probedTx) locked() {
	if after := tx.afterLock; after != nil {
		tx.afterLock = nil
		after()
	}
}

func (tx *probedTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	defer tx.locked()
	return tx.RepositoryTx.FindChild(ctx, q)
}

func (tx *probedTx) LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
	defer tx.locked()
	return tx.RepositoryTx.LookUpChild(ctx, q, w)
}

func (tx *probedTx) Rollback(ctx context.Context) error {
	err := tx.RepositoryTx.Rollback(ctx)
	tx.r.mu.Lock()
	if tx.r.ended != nil {
		close(tx.r.ended)
		tx.r.ended = nil
	}
	tx.r.mu.Unlock()
	return err
}

// probedService is a service on the environment's real stores with its
// repository probed, and the observer that counts what it did.
type probedService struct {
	svc      *app.TokenCacheService
	repo     *probedRepository
	observer *memory.Observer
}

func newProbedService(t testing.TB, e *realEnv) *probedService {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	caches, err := app.ProvideMemoryCaches(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ps := &probedService{
		repo:     &probedRepository{TokenRepository: postgres.NewTokenRepository(e.db, logger)},
		observer: memory.NewObserver(),
	}
	ps.svc, err = app.NewTokenCacheService(e.cfg, e.store, ps.repo, caches, memory.SystemClock{}, ps.observer, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.svc.Close)
	return ps
}

// waitForWork waits for the store work still running in ps.svc, failing
// t if it takes longer than the creation timeout could.
func (ps *probedService) waitForWork(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*app.DefaultCreationTimeout)
	defer cancel()
	if err := ps.svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationCallerLeavingMidCreationCompletesIt(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	ps := newProbedService(t, e)
	p := e.addParent(t, 7*24*time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := ps.repo.cancelAfterNextLock(cancel)
	start := time.Now()
	_, err := ps.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller who left got %v, want context.Canceled", err)
	}
	t.Logf("the caller who left got its error after %v", time.Since(start).Round(time.Microsecond))
	select {
	case <-ended:
	case <-time.After(2 * app.DefaultCreationTimeout):
		t.Fatal("the work whose caller left never ended")
	}

	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows, want 1: the creation did not complete", n)
	}
	child, err := ps.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(context.Background(), child); err != nil {
		t.Fatalf("the child is not in Redis: %v", err)
	}
	c := ps.observer.Counts()
	if c.Created != 1 || c.CacheHits != 1 || c.Lookups != 1 || c.StoreErrors != 0 {
		t.Fatalf("observer counts = %+v, want 1 created, then 1 cache hit, and 1 lookup", c)
	}
}

func TestIntegrationShortDeadlinesCreateInTheBackground(t *testing.T) {
	t.Parallel()
	const n = 300
	e := newRealEnv(t)
	ps := newProbedService(t, e)
	parents := make([]domain.TokenData, n)
	for i := range parents {
		parents[i] = e.addParent(t, 7*24*time.Hour)
	}
	// A first request for each parent's notebook token, one at a time, each
	// with a deadline drawn between 0 and 15 ms: about what a creation takes
	// on a busy machine, so that many callers leave in the middle of one.
	failed, otherwise := 0, 0
	for _, p := range parents {
		ctx, cancel := context.WithTimeout(context.Background(), rand.N(15*time.Millisecond+1))
		_, err := ps.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
		cancel()
		if err != nil {
			failed++
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			otherwise++
			t.Logf("a first request failed otherwise than by its deadline: %v", err)
		}
	}
	ps.waitForWork(t)
	if otherwise != 0 {
		t.Errorf("%d callers failed otherwise than by their deadline, want 0", otherwise)
	}

	begun := int(ps.repo.begun.Load())
	c := ps.observer.Counts()
	t.Logf("%d first requests with deadlines of 0-15 ms: %d callers failed, %d succeeded; "+
		"%d creations began and %d completed (%d after their caller had left)",
		n, failed, n-failed, begun, c.Created, c.Created-(n-failed))
	if c.Created != begun || c.StoreErrors != 0 {
		t.Errorf("%d creations began but %d completed (%d store errors): every creation begun must complete", begun, c.Created, c.StoreErrors)
	}
	if c.Created < n-failed {
		t.Errorf("%d creations completed, fewer than the %d requests that succeeded", c.Created, n-failed)
	}
	rows := 0
	for _, p := range parents {
		k := e.children(t, p.Token.Key)
		if k > 1 {
			t.Errorf("parent %s has %d children, want at most 1", p.Username, k)
		}
		rows += k
	}
	if rows != c.Created {
		t.Errorf("%d child rows, want one per creation (%d)", rows, c.Created)
	}
	inRedis := e.redisChildrenOf(t, parents)
	if inRedis != rows {
		t.Errorf("%d children in Redis and %d child rows: the stores disagree", inRedis, rows)
	}
	if n := ps.svc.PendingCleanups(); n != 0 {
		t.Errorf("%d clean-ups pending, want 0", n)
	}
}

// redisChildrenOf counts, in one scan, the children in Redis of the users
// of parents that this environment's session secret can read.
func (e *realEnv) redisChildrenOf(t *testing.T, parents []domain.TokenData) int {
	t.Helper()
	users := make(map[string]bool, len(parents))
	for _, p := range parents {
		users[p.Username] = true
	}
	ctx := context.Background()
	n := 0
	iter := e.raw.Scan(ctx, 0, "token:*", 1000).Iterator()
	for iter.Next(ctx) {
		data, err := e.store.GetByKey(ctx, strings.TrimPrefix(iter.Val(), "token:"))
		if err == nil && users[data.Username] && data.Type != domain.TokenTypeSession {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
