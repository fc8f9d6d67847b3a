package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// The child budget on the real stores: counted in PostgreSQL, so that it
// holds for several service instances (replicas) on the same stores.

const budgetMax = 5

// budgeted returns n more service instances on e's stores, each bounded to
// budgetMax children per parent per hour.
func (e *realEnv) budgeted(t *testing.T, n int) []*app.TokenCacheService {
	t.Helper()
	cfg := e.cfg
	cfg.MaxChildrenPerParent, cfg.ChildrenWindow = budgetMax, time.Hour
	out := make([]*app.TokenCacheService, n)
	for i := range out {
		svc, cleanup, err := app.InitializeTokenCacheService(context.Background(), cfg)
		if err != nil {
			t.Fatalf("InitializeTokenCacheService: %v", err)
		}
		t.Cleanup(cleanup)
		out[i] = svc
	}
	return out
}

func TestIntegrationChildBudgetHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	ctx := context.Background()
	svcs := e.budgeted(t, 2)
	p := e.addParent(t, 7*24*time.Hour)
	ask := func(svc *app.TokenCacheService, service string) (domain.Token, error) {
		return svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0)
	}

	made := map[string]domain.Token{}
	for i := range 2 * budgetMax {
		service := fmt.Sprintf("service-%d", i)
		tok, err := ask(svcs[i%2], service)
		switch {
		case i < budgetMax && err != nil:
			t.Fatalf("child %d of %d: %v", i+1, budgetMax, err)
		case i < budgetMax:
			made[service] = tok
		case !errors.Is(err, domain.ErrTooManyChildren):
			t.Fatalf("child %d, over the bound of %d: %v, want ErrTooManyChildren", i+1, budgetMax, err)
		}
	}
	// Each instance reuses what the other made, over the budget or not.
	for i := range budgetMax {
		service := fmt.Sprintf("service-%d", i)
		if tok, err := ask(svcs[(i+1)%2], service); err != nil || tok != made[service] {
			t.Fatalf("%s from the other instance: %v, %v; want the child made before", service, tok.Key, err)
		}
	}
	if db, kv := e.children(t, p.Token.Key), e.redisChildren(t, p.Username); db != budgetMax || kv != budgetMax {
		t.Fatalf("%d children in PostgreSQL and %d in Redis, want %d in each", db, kv, budgetMax)
	}

	// Once the children are older than the window, the parent may make
	// more: the window is read from the rows' creation times.
	if _, err := e.db.ExecContext(ctx, `
UPDATE token SET created = created - interval '61 minutes'
WHERE token IN (SELECT child FROM subtoken WHERE parent = $1)`, p.Token.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(svcs[1], "service-after-the-window"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestIntegrationChildBudgetConcurrentInstances(t *testing.T) {
	t.Parallel()
	// Two instances, each with several goroutines naming a new service on
	// every request, as a hostile client would. Children of one parent
	// under different keys do not wait for each other, so creations that
	// counted before the last of the bound committed may all go through:
	// at most one fewer than the number of concurrent creations beyond
	// the bound.
	const workers, requests = 8, 10
	e := newRealEnv(t)
	ctx := context.Background()
	svcs := e.budgeted(t, 2)
	p := e.addParent(t, 7*24*time.Hour)

	var mu sync.Mutex
	made, refused := 0, 0
	var wg sync.WaitGroup
	for w := range len(svcs) * workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range requests {
				service := fmt.Sprintf("worker-%d-request-%d", w, r)
				_, err := svcs[w%len(svcs)].GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0)
				mu.Lock()
				switch {
				case err == nil:
					made++
				case errors.Is(err, domain.ErrTooManyChildren):
					refused++
				default:
					t.Errorf("%s: %v", service, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	concurrent := len(svcs) * workers
	if made < budgetMax || made > budgetMax+concurrent-1 {
		t.Errorf("%d children made, want %d to %d (the bound, plus at most the concurrent creations but one)",
			made, budgetMax, budgetMax+concurrent-1)
	}
	if made+refused != concurrent*requests {
		t.Errorf("%d made and %d refused of %d requests", made, refused, concurrent*requests)
	}
	if db, kv := e.children(t, p.Token.Key), e.redisChildren(t, p.Username); db != made || kv != made {
		t.Errorf("%d children in PostgreSQL and %d in Redis, want the %d made in each", db, kv, made)
	}
	t.Logf("bound %d, %d concurrent creations: %d children made, %d refused", budgetMax, concurrent, made, refused)
}

// On the real stores: a creation that waited for the lock, held by another
// replica, until the parent's one child in the window had left it, is
// made, not refused by a count as of before the wait.
func TestIntegrationChildBudgetCountedAsOfTheLock(t *testing.T) {
	const window = 2 * time.Second
	e := newRealEnvFrom(t, app.Config{
		RedisURL:             integration.RedisURL(t),
		DatabaseURL:          integration.DatabaseURL(t),
		SessionSecret:        newSessionSecret(t),
		TokenLifetime:        24 * time.Hour,
		CacheSize:            100,
		MaxChildrenPerParent: 1,
		ChildrenWindow:       window,
	})
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	// The parent's one child of the window, of another key.
	if _, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	first := time.Now()
	// Another replica holds the notebook child's lock until the internal
	// child has left the window.
	other, err := postgres.NewTokenRepository(e.db, slog.New(slog.DiscardHandler)).Begin(ctx, domain.NotebookCacheKey(p))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(time.Until(first.Add(window + 1500*time.Millisecond)))
		_ = other.Rollback(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	_, err = e.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	var tooMany *domain.TooManyChildrenError
	if errors.As(err, &tooMany) {
		t.Fatalf("refused %v after the only child of the window was made, with a window of %v (Retry-After %v ago): %v",
			time.Since(first).Round(time.Millisecond), window, time.Since(tooMany.RetryAt).Round(time.Millisecond), err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
