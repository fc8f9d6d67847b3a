package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
)

// A window that is not whole seconds (--children-window takes any positive
// duration): the Retry-After is the first whole second at which the child
// that fills the budget has left the window, not a second before.
func TestRule10RetryAfterWithAFractionalWindow(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewManualClock(specNow)
	store, repo := memory.NewTokenStore(clock), memory.NewRepositoryWithClock(clock)
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TokenLifetime: specLifetime, MaxChildrenPerParent: 1, ChildrenWindow: time.Hour + 500*time.Millisecond}
	svc, err := NewTokenCacheService(cfg, store, repo, caches, clock, memory.NewObserver(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	p := parent(t)
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
	ask := func(service string) error {
		_, err := svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0)
		return err
	}
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
			tooMany.RetryAt.Format(time.TimeOnly), specNow.Truncate(time.Second).Format(time.TimeOnly), cfg.ChildrenWindow, err)
	}
}
