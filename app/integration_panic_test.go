package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
	"github.com/tokencache/tokencache/ports"
)

// panickyRepo is the real PostgreSQL repository whose units of work panic
// at one step (as a driver hitting a runtime error would), after the real
// call has run.
type panickyRepo struct {
	ports.TokenRepository
	at string
}

func (r panickyRepo) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.TokenRepository.BeginDeferred(ctx, lock)
	if err != nil {
		return nil, err
	}
	return panickyTx{RepositoryTx: tx, at: r.at}, nil
}

type panickyTx struct {
	ports.RepositoryTx
	at string
}

func (t panickyTx) AddToken(ctx context.Context, rec domain.TokenRecord) error {
	if t.at == "AddToken" {
		panic("driver bug in AddToken")
	}
	return t.RepositoryTx.AddToken(ctx, rec)
}

func (t panickyTx) Commit(ctx context.Context) error {
	if t.at == "Commit" {
		panic("driver bug in Commit")
	}
	return t.RepositoryTx.Commit(ctx)
}

// A panic in the repository after the child was written to Redis reaches
// the caller (as documented), and the unit of work is rolled back; the
// child must not stay in Redis without its rows.
func TestIntegrationPanicAfterTheTokenStoreWriteLeavesNoOrphan(t *testing.T) {
	for _, at := range []string{"AddToken", "Commit"} {
		t.Run(at, func(t *testing.T) {
			base := newRealEnv(t)
			logger := slog.New(slog.DiscardHandler)
			caches, err := app.ProvideMemoryCaches(base.cfg)
			if err != nil {
				t.Fatal(err)
			}
			repo := panickyRepo{TokenRepository: postgres.NewTokenRepository(base.db, logger), at: at}
			svc, err := app.NewTokenCacheService(base.cfg, base.store, repo, caches, memory.SystemClock{}, memory.NewObserver(), logger)
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			box, err := fernetbox.New(base.cfg.SessionSecret)
			if err != nil {
				t.Fatal(err)
			}
			e := &faultEnv{realEnv: base, box: box}
			p := base.addParent(t, 7*24*time.Hour)
			t.Cleanup(func() { e.removeOrphans(t, p.Username) })

			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_, _ = svc.GetInternalToken(context.Background(), p, "panic-portal", []string{"read:all"}, "192.0.2.7", 0)
			}()
			if recovered == nil {
				t.Fatal("no panic reached the caller")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := svc.DrainCleanups(ctx); err != nil {
				t.Fatal(err)
			}
			e.checkStoresAgree(t, p.Username)
		})
	}
}
