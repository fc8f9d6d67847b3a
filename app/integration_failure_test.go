package app_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// Failures on the real stores leave nothing behind in either.

func TestIntegrationParentMissingFromDatabaseLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	ctx := context.Background()
	tok, _ := domain.NewToken(rand.Reader)
	now := time.Now().UTC().Truncate(time.Second)
	p := domain.TokenData{Token: tok, Username: "it-orphan-" + tok.Key[:6], Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(time.Hour)}
	if err := e.store.Store(ctx, p); err != nil { // in Redis only
		t.Fatal(err)
	}
	t.Cleanup(func() { e.removeUser(p.Username); _ = e.store.Delete(ctx, tok.Key) })

	_, err := e.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
	if n := e.redisChildren(t, p.Username); n != 0 {
		t.Fatalf("%d children left in Redis, want 0", n)
	}
	if n := e.children(t, p.Token.Key); n != 0 {
		t.Fatalf("%d child rows, want 0", n)
	}
}

// cancellingStore is the real token store, except that it cancels the
// caller's context as soon as a token has been stored: the caller gives up
// between the two stores.
type cancellingStore struct {
	ports.TokenStore
	cancel context.CancelFunc
}

func (s cancellingStore) Store(ctx context.Context, data domain.TokenData) error {
	err := s.TokenStore.Store(ctx, data)
	s.cancel()
	return err
}

// A caller that gives up between the two stores no longer stops the
// creation (rule 6: the work runs detached from it): the child ends in
// both stores, and the next request gets it.
func TestIntegrationCancelledBetweenStoresCompletesTheChild(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	p := e.addParent(t, 7*24*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	caches, err := app.ProvideMemoryCaches(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := app.NewTokenCacheService(e.cfg, cancellingStore{e.store, cancel},
		postgres.NewTokenRepository(e.db, logger), caches, memory.SystemClock{}, memory.NewObserver(), logger)
	if err != nil {
		t.Fatal(err)
	}
	// The caller gets its error at once, unless the work ended first.
	if _, err = svc.GetNotebookToken(ctx, p, "192.0.2.1", 0); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled or none", err)
	}
	next, cancelNext := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelNext()
	if err := svc.DrainCleanups(next); err != nil { // waits for the work
		t.Fatal(err)
	}
	if n := e.redisChildren(t, p.Username); n != 1 {
		t.Fatalf("%d children in Redis, want 1", n)
	}
	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows, want 1", n)
	}
	// The repository lock was released: the next request succeeds at once.
	if _, err := e.svc.GetNotebookToken(next, p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationBadConfigurationFailsClearly(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	for name, edit := range map[string]func(*app.Config){
		"BadRedisURL":        func(c *app.Config) { c.RedisURL = "http://127.0.0.1:6379" },
		"NoRedisURL":         func(c *app.Config) { c.RedisURL = "" },
		"UnreachableRedis":   func(c *app.Config) { c.RedisURL = "redis://127.0.0.1:1/0" },
		"BadDatabaseURL":     func(c *app.Config) { c.DatabaseURL = "mysql://x" },
		"NoDatabaseURL":      func(c *app.Config) { c.DatabaseURL = "" },
		"UnreachableDB":      func(c *app.Config) { c.DatabaseURL = "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable" },
		"BadSessionSecret":   func(c *app.Config) { c.SessionSecret = "hunter2-not-a-fernet-key" },
		"EmptySessionSecret": func(c *app.Config) { c.SessionSecret = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e.cfg
			edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
			if err == nil {
				cleanup()
				t.Fatal("InitializeTokenCacheService succeeded")
			}
			if svc != nil || cleanup != nil {
				t.Fatal("a failed composition returned a service or cleanup")
			}
			for _, secret := range []string{"hunter2", e.cfg.SessionSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q reveals a secret", err)
				}
			}
		})
	}
}

// lostCommitRepository is the real repository, except that each commit
// takes effect and then reports failure, as when the connection drops
// before the server's answer arrives.
type lostCommitRepository struct{ ports.TokenRepository }

func (r lostCommitRepository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.TokenRepository.BeginDeferred(ctx, lock)
	return lostCommitTx{tx}, err
}

type lostCommitTx struct{ ports.RepositoryTx }

func (tx lostCommitTx) Commit(ctx context.Context) error {
	if err := tx.RepositoryTx.Commit(ctx); err != nil {
		return err
	}
	return errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
}

// slowCommitRepository is the real repository, except that each commit
// reports failure at once and takes effect a little later (well within lockWait), as when a
// connection drops while the server waits to flush the commit or for a
// synchronous standby: the server finishes it whatever the client does.
// Its units of work outlive their context, as the server's transaction
// outlives the client's.
type slowCommitRepository struct {
	ports.TokenRepository
	delay     time.Duration
	committed sync.WaitGroup
}

func (r *slowCommitRepository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.TokenRepository.BeginDeferred(context.WithoutCancel(ctx), lock)
	return &slowCommitTx{RepositoryTx: tx, repo: r}, err
}

type slowCommitTx struct {
	ports.RepositoryTx
	repo     *slowCommitRepository
	detached bool // the commit is the server's now
}

func (tx *slowCommitTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	return tx.RepositoryTx.FindChild(context.WithoutCancel(ctx), q)
}

func (tx *slowCommitTx) LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
	return tx.RepositoryTx.LookUpChild(context.WithoutCancel(ctx), q, w)
}

func (tx *slowCommitTx) AddToken(ctx context.Context, rec domain.TokenRecord) error {
	return tx.RepositoryTx.AddToken(context.WithoutCancel(ctx), rec)
}

func (tx *slowCommitTx) Commit(ctx context.Context) error {
	tx.detached = true
	tx.repo.committed.Add(1)
	go func() {
		defer tx.repo.committed.Done()
		time.Sleep(tx.repo.delay)
		if err := tx.RepositoryTx.Commit(context.Background()); err != nil {
			panic(err)
		}
	}()
	return errors.New("read tcp 127.0.0.1:5432: i/o timeout")
}

func (tx *slowCommitTx) Rollback(ctx context.Context) error {
	if tx.detached {
		return nil
	}
	return tx.RepositoryTx.Rollback(ctx)
}

// A commit whose answer was lost may still be under way, invisible until it
// ends. The service must not take "no row yet" for "never recorded" and
// delete the child from Redis while its rows are about to be committed.
func TestIntegrationCommitStillUnderWayIsNotTakenForLost(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	p := e.addParent(t, 7*24*time.Hour)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	caches, err := app.ProvideMemoryCaches(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	repo := &slowCommitRepository{TokenRepository: postgres.NewTokenRepository(e.db, logger), delay: 100 * time.Millisecond}
	svc, err := app.NewTokenCacheService(e.cfg, e.store, repo, caches, memory.SystemClock{}, memory.NewObserver(), logger)
	if err != nil {
		t.Fatal(err)
	}
	child, err := svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	repo.committed.Wait()
	if err := svc.DrainCleanups(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows, want the 1 committed", n)
	}
	if err != nil {
		t.Fatalf("a commit that took effect failed the request: %v", err)
	}
	if _, err := e.store.Get(context.Background(), child); err != nil {
		t.Fatalf("the child's rows are committed but Redis no longer holds it: %v", err)
	}
}

func TestIntegrationLostCommitAnswerKeepsChildInBothStores(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	p := e.addParent(t, 7*24*time.Hour)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	caches, err := app.ProvideMemoryCaches(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	repo := lostCommitRepository{postgres.NewTokenRepository(e.db, logger)}
	svc, err := app.NewTokenCacheService(e.cfg, e.store, repo, caches, memory.SystemClock{}, memory.NewObserver(), logger)
	if err != nil {
		t.Fatal(err)
	}
	child, err := svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil {
		t.Fatalf("a commit that took effect failed the request: %v", err)
	}
	if _, err := e.store.Get(context.Background(), child); err != nil {
		t.Fatalf("the child is not in Redis: %v", err)
	}
	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows, want 1", n)
	}
}

// A creation that times out waiting for the repository's lock, held by
// another replica (or a stranded transaction), is reported as a failure
// to begin the repository's work, as with an eager Begin, although the
// lock's wait now goes in one message with the first lookup: the metric
// label and the error say so.
func TestIntegrationLockWaitTimeoutIsReportedAsBegin(t *testing.T) {
	t.Parallel()
	cfg := app.Config{
		RedisURL:        integration.RedisURL(t),
		DatabaseURL:     integration.DatabaseURL(t),
		SessionSecret:   newSessionSecret(t),
		TokenLifetime:   24 * time.Hour,
		CacheSize:       100,
		CreationTimeout: 300 * time.Millisecond,
	}
	e := newRealEnvFrom(t, cfg)
	caches, err := app.ProvideMemoryCaches(cfg)
	if err != nil {
		t.Fatal(err)
	}
	observer := memory.NewObserver()
	logger := slog.New(slog.DiscardHandler)
	svc, err := app.NewTokenCacheService(cfg, e.store, postgres.NewTokenRepository(e.db, logger), caches, memory.SystemClock{}, observer, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	p := e.addParent(t, 7*24*time.Hour)
	other, err := postgres.NewTokenRepository(e.db, logger).Begin(context.Background(), domain.NotebookCacheKey(p))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(context.Background()) }()

	_, err = svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for repository lock") {
		t.Errorf("GetNotebookToken with the lock held elsewhere = %v, want the lock's wait past its deadline", err)
	}
	if b, f := observer.StoreErrorsFor("repository.begin"), observer.StoreErrorsFor("repository.find"); b != 1 || f != 0 {
		t.Errorf("store errors: repository.begin %d, repository.find %d; want 1 and 0", b, f)
	}
}
