package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
)

// BenchmarkInMemoryNewChildOfBusyParent makes a new internal child, for a
// service not seen before, of a parent that already has n children, on the
// in-memory stores: what a client naming a new delegate_to on every request
// costs the embedded daemon. Each operation adds a child, so run it a fixed
// number of times (-benchtime 2000x) to compare the two sizes. The budget is
// set too high to refuse anything, so that its count is part of the cost.
func BenchmarkInMemoryNewChildOfBusyParent(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			ctx := context.Background()
			clock := memory.SystemClock{}
			store, repo := memory.NewTokenStore(clock), memory.NewRepository()
			caches, err := ProvideMemoryCaches(Config{})
			if err != nil {
				b.Fatal(err)
			}
			cfg := Config{MaxChildrenPerParent: 1 << 30}
			svc, err := NewTokenCacheService(cfg, store, repo, caches, clock, memory.NewObserver(), slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			p := benchParent(b, store, repo)
			ask := func(service string) {
				if _, err := svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0); err != nil {
					b.Fatal(err)
				}
			}
			for i := range n {
				ask(fmt.Sprintf("before-%d", i))
			}
			b.ResetTimer()
			for i := range b.N {
				ask(fmt.Sprintf("service-%d", i))
			}
		})
	}
}

// benchParent puts a session token valid for a week into both stores.
func benchParent(b *testing.B, store *memory.TokenStore, repo *memory.Repository) domain.TokenData {
	b.Helper()
	ctx := context.Background()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := domain.TokenData{Token: tok, Username: "bench", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(7 * 24 * time.Hour)}
	if err := store.Store(ctx, p); err != nil {
		b.Fatal(err)
	}
	tx, err := repo.Begin(ctx, "bench-parent")
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username}); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return p
}
