package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
	"github.com/tokencache/tokencache/ports"
)

// panickyCheckRepo is the real repository whose commits fail as a lost
// answer does (here: nothing was committed), and whose first checks of a
// row, made after such a commit, panic as a driver bug would.
type panickyCheckRepo struct {
	ports.TokenRepository
	checks *atomic.Int32
	panics int32
}

func (r panickyCheckRepo) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.TokenRepository.BeginDeferred(ctx, lock)
	if err != nil {
		return nil, err
	}
	return failedCommitTx{tx}, nil
}

func (r panickyCheckRepo) TokenExists(ctx context.Context, key string) (bool, error) {
	if r.checks.Add(1) <= r.panics {
		panic("driver bug in TokenExists")
	}
	return r.TokenRepository.TokenExists(ctx, key)
}

type failedCommitTx struct{ ports.RepositoryTx }

func (t failedCommitTx) Commit(ctx context.Context) error {
	_ = t.RepositoryTx.Rollback(ctx)
	return errors.New("connection reset by peer")
}

// The same driver panic as in TestIntegrationPanicAfterTheTokenStoreWriteLeavesNoOrphan,
// one step later: in the check of whether a failed commit took effect,
// the creation's own (the panic reaches the caller) and then the clean-up
// worker's (which must outlive it and try again). The child is in Redis
// and its rows were never committed: it must not stay there.
func TestIntegrationPanicInTheCommitCheckLeavesNoOrphan(t *testing.T) {
	for _, panics := range []int32{1, 2} {
		t.Run(fmt.Sprintf("%d checks panic", panics), func(t *testing.T) {
			base := newRealEnv(t)
			logger := slog.New(slog.DiscardHandler)
			caches, err := app.ProvideMemoryCaches(base.cfg)
			if err != nil {
				t.Fatal(err)
			}
			repo := panickyCheckRepo{postgres.NewTokenRepository(base.db, logger), new(atomic.Int32), panics}
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
