package memory_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
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

// memorySession is a session token of its own, created at created.
func memorySession(t *testing.T, created time.Time) domain.TokenData {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return domain.TokenData{Token: tok, Username: "u", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: created, Expires: created.Add(24 * time.Hour)}
}

// A unit whose Begin context has ended can no longer be used, however soon
// after it is asked: it commits nothing, as a database transaction tied to
// that context would not (the end of the context runs on a goroutine of its
// own, and a call made before it has run used to go through).
func TestRepositoryTxEndedByContextCommitsNothing(t *testing.T) {
	repo := memory.NewRepository()
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := repo.Begin(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		p := memorySession(t, time.Now().UTC())
		err = tx.AddToken(context.Background(), domain.TokenRecord{Data: p, Actor: "u"})
		if err == nil {
			err = tx.Commit(context.Background())
		}
		_ = tx.Rollback(context.Background())
		if ok, _ := repo.TokenExists(context.Background(), p.Token.Key); err == nil || ok {
			t.Fatalf("round %d: a unit whose context had ended committed (err %v, row %v)", i, err, ok)
		}
	}
}

// hookedContext runs hook the first time it is asked whether it has ended.
type hookedContext struct {
	context.Context
	once sync.Once
	hook func()
}

func (c *hookedContext) Err() error {
	c.once.Do(c.hook)
	return c.Context.Err()
}

func (c *hookedContext) Done() <-chan struct{} {
	c.once.Do(c.hook)
	return c.Context.Done()
}

// A unit keeps its lock until its commit has applied its rows: Begin's
// context ending meanwhile must not let another unit take the lock, find
// nothing, and make a duplicate.
func TestRepositoryTxKeepsItsLockWhileItCommits(t *testing.T) {
	repo := memory.NewRepository()
	begun, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, err := repo.Begin(begun, "k")
	if err != nil {
		t.Fatal(err)
	}
	p := memorySession(t, time.Now().UTC())
	if err := tx.AddToken(context.Background(), domain.TokenRecord{Data: p, Actor: "u"}); err != nil {
		t.Fatal(err)
	}
	other := false
	commit := &hookedContext{Context: context.Background(), hook: func() {
		cancel() // while the unit commits
		ctx, stop := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer stop()
		if tx, err := repo.Begin(ctx, "k"); err == nil {
			other = true
			_ = tx.Rollback(ctx)
		}
	}}
	err = tx.Commit(commit)
	ok, _ := repo.TokenExists(context.Background(), p.Token.Key)
	if other && err == nil && ok {
		t.Fatal("another unit took the lock while this one committed, and the commit then applied its rows")
	}
}

// A unit's own rows, before it commits, read as they will once committed:
// their times in whole seconds, as PostgreSQL's columns hold them.
func TestRepositoryTxPendingRowsInWholeSeconds(t *testing.T) {
	ctx := context.Background()
	repo := memory.NewRepository()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	p := memorySession(t, now)
	tx, err := repo.Begin(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: "u"}); err != nil {
		t.Fatal(err)
	}
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	child := domain.TokenData{Token: tok, Username: "u", Type: domain.TokenTypeNotebook, Scopes: []string{"read:all"},
		Created: now.Add(500 * time.Millisecond), Expires: now.Add(time.Hour + 500*time.Millisecond)}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: child, ParentKey: p.Token.Key, Actor: "u"}); err != nil {
		t.Fatal(err)
	}
	q := domain.ChildQuery{ParentKey: p.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: now.Add(time.Hour + 300*time.Millisecond)}
	got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: now.Add(300 * time.Millisecond), Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "" || got.Recent.N != 0 {
		t.Errorf("LookUpChild in the adding unit = %+v; want no child found (it expires at %s) and none counted (made at %s)",
			got, now.Add(time.Hour).Format(time.TimeOnly), now.Format(time.TimeOnly))
	}
}
