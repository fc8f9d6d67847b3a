package porttest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// testStoresGafaelfawrsForm checks that store gives back what Gafaelfawr's
// format holds: times in whole seconds, scopes sorted without duplicates.
func testStoresGafaelfawrsForm(t *testing.T, store ports.TokenStore) {
	ctx := context.Background()
	t.Run("TimesInWholeSeconds", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		data.Created = data.Created.Add(500 * time.Millisecond)
		data.Expires = data.Expires.Add(500 * time.Millisecond)
		if err := store.Store(ctx, data); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = store.Delete(ctx, data.Token.Key) }()
		got, err := store.Get(ctx, data.Token)
		if err != nil {
			t.Fatal(err)
		}
		if want := data.Created.Truncate(time.Second); !got.Created.Equal(want) {
			t.Errorf("created %v, want %v", got.Created, want)
		}
		if want := data.Expires.Truncate(time.Second); !got.Expires.Equal(want) {
			t.Errorf("expires %v, want %v", got.Expires, want)
		}
	})
	t.Run("ScopesCanonical", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		data.Scopes = []string{"user:token", "read:all", "read:all"}
		if err := store.Store(ctx, data); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = store.Delete(ctx, data.Token.Key) }()
		got, err := store.Get(ctx, data.Token)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"read:all", "user:token"}; !reflect.DeepEqual(got.Scopes, want) {
			t.Errorf("scopes %q, want %q", got.Scopes, want)
		}
	})
}

// testRepositoryAsPostgreSQL checks what a PostgreSQL transaction does
// and the memory repository must do too: times in whole seconds, a unit of
// work aborted by a failed addition, and one that ends with the context it
// began with.
func testRepositoryAsPostgreSQL(t *testing.T, repo ports.TokenRepository) {
	ctx := context.Background()
	lock := func(t *testing.T) domain.CacheKey { return domain.CacheKey("porttest-pg-" + newToken(t).Key) }
	begin := func(t *testing.T) ports.RepositoryTx {
		t.Helper()
		tx, err := repo.Begin(ctx, lock(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		return tx
	}
	add := func(t *testing.T, recs ...domain.TokenRecord) {
		t.Helper()
		tx := begin(t)
		for _, rec := range recs {
			if err := tx.AddToken(ctx, rec); err != nil {
				t.Fatalf("AddToken: %v", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	newParent := func(t *testing.T) domain.TokenData {
		p := sessionData(t, 24*time.Hour)
		add(t, domain.TokenRecord{Data: p, Actor: p.Username})
		return p
	}
	child := func(t *testing.T, p domain.TokenData, created, expires time.Time) domain.TokenRecord {
		d := p.Clone()
		d.Token, d.Type, d.Created, d.Expires = newToken(t), domain.TokenTypeNotebook, created, expires
		return domain.TokenRecord{Data: d, ParentKey: p.Token.Key, Actor: p.Username}
	}
	notebooks := func(p domain.TokenData, minExpiration time.Time) domain.ChildQuery {
		return domain.ChildQuery{ParentKey: p.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: minExpiration}
	}

	t.Run("ExpiryInWholeSeconds", func(t *testing.T) {
		t.Parallel()
		p := newParent(t)
		add(t, child(t, p, p.Created, p.Created.Add(time.Hour+500*time.Millisecond)))
		// The row's expiry is p.Created + 1h, before the cut-off.
		if key, err := begin(t).FindChild(ctx, notebooks(p, p.Created.Add(time.Hour+300*time.Millisecond))); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("FindChild = %q, %v; want the child, whose expiry is kept in whole seconds, not found", key, err)
		}
	})
	t.Run("OrderInWholeSeconds", func(t *testing.T) {
		t.Parallel()
		p := newParent(t)
		older := child(t, p, p.Created, p.Created.Add(time.Hour+700*time.Millisecond))
		newer := child(t, p, p.Created.Add(time.Second), p.Created.Add(time.Hour+200*time.Millisecond))
		add(t, older, newer)
		// Both expire at p.Created + 1h in whole seconds: the newer wins.
		if key, err := begin(t).FindChild(ctx, notebooks(p, p.Created)); err != nil || key != newer.Data.Token.Key {
			t.Errorf("FindChild = %q, %v; want the newer %q", key, err, newer.Data.Token.Key)
		}
	})
	t.Run("CountInWholeSeconds", func(t *testing.T) {
		t.Parallel()
		p := newParent(t)
		add(t, child(t, p, p.Created.Add(500*time.Millisecond), p.Created.Add(time.Hour)))
		// Created at p.Created in whole seconds, before since.
		got, err := begin(t).LookUpChild(ctx, notebooks(p, p.Created), domain.ChildWindow{Since: p.Created.Add(300 * time.Millisecond), Max: 1})
		if err != nil || got.Recent.N != 0 {
			t.Errorf("LookUpChild = %+v, %v; want no child counted", got.Recent, err)
		}
	})
	t.Run("SameKeyTwiceFails", func(t *testing.T) {
		t.Parallel()
		p := newParent(t)
		c := child(t, p, p.Created, p.Created.Add(time.Hour))
		tx := begin(t)
		if err := tx.AddToken(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := tx.AddToken(ctx, c); err == nil {
			t.Error("AddToken of a key added already succeeded")
		}
	})
	t.Run("FailedAdditionAbortsTheUnit", func(t *testing.T) {
		t.Parallel()
		p := sessionData(t, time.Hour)
		orphan := child(t, sessionData(t, time.Hour), p.Created, p.Created.Add(time.Hour))
		tx := begin(t)
		if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username}); err != nil {
			t.Fatal(err)
		}
		if err := tx.AddToken(ctx, orphan); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("AddToken of an orphan = %v, want ErrInvalidToken", err)
		}
		if err := tx.Commit(ctx); err == nil {
			t.Error("Commit after a failed AddToken succeeded")
		}
		if ok, err := repo.TokenExists(ctx, p.Token.Key); err != nil || ok {
			t.Errorf("TokenExists of the addition before the failure = %v, %v; want false", ok, err)
		}
	})
	t.Run("BeginWithAnEndedContextFails", func(t *testing.T) {
		t.Parallel()
		ended, cancel := context.WithCancel(ctx)
		cancel()
		for range 20 {
			if tx, err := repo.Begin(ended, lock(t)); err == nil {
				_ = tx.Rollback(ctx)
				t.Fatal("Begin with an ended context succeeded")
			}
		}
	})
	t.Run("UnitEndsWithItsContext", func(t *testing.T) {
		t.Parallel()
		name := lock(t)
		bctx, cancel := context.WithCancel(ctx)
		tx, err := repo.Begin(bctx, name)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		cancel()
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		if next, err := repo.Begin(wctx, name); err != nil {
			t.Errorf("the lock is still held after its unit's context ended: %v", err)
		} else {
			_ = next.Rollback(ctx)
		}
		p := sessionData(t, time.Hour)
		err = tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: p.Username})
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err == nil {
			t.Error("the unit whose context ended still added and committed")
		}
	})
}
