package memory_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

func TestTokenStoreExpiresByClock(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	store := memory.NewTokenStore(clock)
	tok, _ := domain.NewToken(rand.Reader)
	data := domain.TokenData{Token: tok, Username: "u", Type: domain.TokenTypeSession,
		Created: clock.Now(), Expires: clock.Now().Add(time.Minute)}
	if err := store.Store(ctx, data); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if _, err := store.Get(ctx, tok); err != nil {
		t.Fatalf("Get just before expiry: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := store.Get(ctx, tok); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get at expiry = %v, want ErrNotFound", err)
	}
	if n := store.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0", n)
	}
}

func TestChildCacheEvictsLeastRecentlyUsed(t *testing.T) {
	cache, err := memory.NewChildCache(2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := domain.NewToken(rand.Reader)
	b, _ := domain.NewToken(rand.Reader)
	c, _ := domain.NewToken(rand.Reader)
	cache.Put("a", a)
	cache.Put("b", b)
	if got, ok := cache.Get("a"); !ok || got != a {
		t.Fatal("a missing")
	}
	cache.Put("c", c) // evicts b, the least recently used
	if _, ok := cache.Get("b"); ok {
		t.Fatal("b survived eviction")
	}
	if got, ok := cache.Get("c"); !ok || got != c {
		t.Fatal("c missing")
	}
	cache.Clear()
	if n := cache.Len(); n != 0 {
		t.Fatalf("Len after Clear = %d", n)
	}
}

func TestChildCacheRejectsBadSize(t *testing.T) {
	if _, err := memory.NewChildCache(0); err == nil {
		t.Fatal("NewChildCache(0) succeeded")
	}
}

func TestRepositoryRecordsHistory(t *testing.T) {
	ctx := context.Background()
	repo := memory.NewRepository()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	parentTok, _ := domain.NewToken(rand.Reader)
	childTok, _ := domain.NewToken(rand.Reader)
	parent := domain.TokenData{Token: parentTok, Username: "u", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now}
	child := domain.TokenData{Token: childTok, Username: "u", Type: domain.TokenTypeNotebook,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(time.Hour)}
	tx, err := repo.Begin(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: parent, Actor: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: child, ParentKey: parentTok.Key, Actor: "u", IPAddress: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := repo.Children(parentTok.Key); len(got) != 1 || got[0] != childTok.Key {
		t.Fatalf("Children = %v", got)
	}
	row, ok := repo.Token(childTok.Key)
	if !ok || row.Token.Secret != "" {
		t.Fatalf("Token row = %+v, %v; want a row without its secret", row, ok)
	}
	h := repo.History(childTok.Key)
	if len(h) != 1 || h[0].Action != "create" || h[0].ParentKey != parentTok.Key ||
		h[0].IPAddress != "192.0.2.7" || !h[0].EventTime.Equal(now) {
		t.Fatalf("History = %+v", h)
	}
}

func TestRepositoryTxUnusableAfterCancel(t *testing.T) {
	repo := memory.NewRepository()
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := repo.Begin(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after cancel = %v, want context.Canceled", err)
	}
	// The lock was released: another unit of work may begin.
	tx, err = repo.Begin(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(context.Background())
}
