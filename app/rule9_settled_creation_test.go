package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// lostCommitRepo loses the answer of every commit (the rows are committed)
// and cannot tell, the first time it is asked, whether a token exists.
type lostCommitRepo struct {
	*memory.Repository
	asked atomic.Int32
}

func (r *lostCommitRepo) BeginDeferred(ctx context.Context, l domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.Repository.BeginDeferred(ctx, l)
	return lostCommitTx{tx}, err
}

func (r *lostCommitRepo) TokenExists(ctx context.Context, key string) (bool, error) {
	if r.asked.Add(1) == 1 {
		return false, errors.New("connection reset by peer")
	}
	return r.Repository.TokenExists(ctx, key)
}

type lostCommitTx struct{ ports.RepositoryTx }

func (t lostCommitTx) Commit(ctx context.Context) error {
	_ = t.RepositoryTx.Commit(ctx)
	return errors.New("read: connection reset by peer") // the answer is lost
}

// Rule 9: each creation logs one record and is counted. A creation whose
// commit answer was lost, settled later by the clean-up as kept (its rows
// committed), leaves a child in both stores that later requests are
// handed: it is logged and counted then, once.
func TestRule9CreationSettledLaterIsLoggedAndCounted(t *testing.T) {
	clock := memory.SystemClock{}
	store, repo := memory.NewTokenStore(clock), &lostCommitRepo{Repository: memory.NewRepository()}
	var logs bytes.Buffer
	caches, _ := ProvideMemoryCaches(Config{CacheSize: 10})
	obs := memory.NewObserver()
	svc, err := NewTokenCacheService(Config{TokenLifetime: 24 * time.Hour}, store, repo, caches, clock, obs,
		slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	p := parent(t)
	p.Created, p.Expires = now.Add(-time.Hour), now.Add(48*time.Hour)
	_ = store.Store(ctx, p)
	tx, _ := repo.Repository.Begin(ctx, "p")
	_ = tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username, IPAddress: "192.0.2.1"})
	_ = tx.Commit(ctx)

	if _, err := svc.GetNotebookToken(ctx, p, "192.0.2.1", 0); err == nil {
		t.Fatal("the first request should fail: its commit could not be settled at once")
	}
	if err := svc.DrainCleanups(ctx); err != nil {
		t.Fatal(err)
	}
	children := repo.Children(p.Token.Key)
	if len(children) != 1 {
		t.Fatalf("%d children recorded, want 1", len(children))
	}
	child := children[0]
	got, err := svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil || got.Key != child {
		t.Fatalf("second request: %v, %v; want the kept child %s", got.Key, err, child)
	}
	if n := strings.Count(logs.String(), `"msg":"created delegated token"`); n != 1 || !strings.Contains(logs.String(), `"token_key":"`+child+`"`) {
		t.Errorf("child %s exists in both stores and was handed out; %d creation records logged, want 1\nlogs:\n%s",
			child, n, logs.String())
	}
	if n := obs.Counts().Created; n != 1 {
		t.Errorf("%d creations counted, want 1", n)
	}
	if data, err := store.GetByKey(ctx, child); err != nil || strings.Contains(logs.String(), data.Token.Secret) {
		t.Errorf("the child's secret was logged, or the child cannot be read (%v)", err)
	}
}
