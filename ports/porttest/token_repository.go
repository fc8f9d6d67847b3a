package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// TestTokenRepository checks that repo behaves as ports.TokenRepository
// documents.
func TestTokenRepository(t *testing.T, repo ports.TokenRepository) {
	ctx := context.Background()
	begin := func(t *testing.T, lock domain.CacheKey) ports.RepositoryTx {
		t.Helper()
		tx, err := repo.Begin(ctx, lock)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		return tx
	}
	add := func(t *testing.T, recs ...domain.TokenRecord) {
		t.Helper()
		tx := begin(t, domain.CacheKey("porttest-add-"+newToken(t).Key))
		for _, rec := range recs {
			if err := tx.AddToken(ctx, rec); err != nil {
				t.Fatalf("AddToken: %v", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	// find returns what FindChild finds, and checks that LookUpChild finds
	// the same.
	find := func(t *testing.T, q domain.ChildQuery) (string, error) {
		t.Helper()
		tx := begin(t, domain.CacheKey("porttest-find-"+newToken(t).Key))
		defer func() { _ = tx.Rollback(ctx) }()
		key, err := tx.FindChild(ctx, q)
		if err != nil && !errors.Is(err, ports.ErrNotFound) {
			return key, err
		}
		got, lookErr := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: q.MinExpiration, Max: 1})
		if lookErr != nil || got.Key != key {
			t.Errorf("LookUpChild found %q, %v; FindChild %q, %v", got.Key, lookErr, key, err)
		}
		return key, err
	}
	newParent := func(t *testing.T) domain.TokenData {
		t.Helper()
		parent := sessionData(t, 24*time.Hour)
		add(t, domain.TokenRecord{Data: parent, Actor: parent.Username, IPAddress: "192.0.2.1"})
		return parent
	}
	child := func(t *testing.T, parent domain.TokenData, typ domain.TokenType, service string, scopes []string, lifetime time.Duration) domain.TokenRecord {
		t.Helper()
		data := parent.Clone()
		data.Token = newToken(t)
		data.Type, data.Service, data.Scopes = typ, service, scopes
		data.Expires = data.Created.Add(lifetime)
		return domain.TokenRecord{Data: data, ParentKey: parent.Token.Key, Actor: parent.Username, IPAddress: "2001:db8::1"}
	}

	t.Run("FindChildFilters", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		other := newParent(t)
		internal := child(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, time.Hour)
		add(t,
			internal,
			child(t, parent, domain.TokenTypeInternal, "other", []string{"read:all"}, 2*time.Hour),
			child(t, parent, domain.TokenTypeInternal, "portal", []string{"exec:notebook", "read:all"}, 2*time.Hour),
			child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 2*time.Hour),
			child(t, other, domain.TokenTypeInternal, "portal", []string{"read:all"}, 2*time.Hour),
		)
		q := domain.ChildQuery{
			ParentKey: parent.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: []string{"read:all"}, MinExpiration: parent.Created.Add(30 * time.Minute),
		}
		key, err := find(t, q)
		if err != nil || key != internal.Data.Token.Key {
			t.Fatalf("FindChild = %q, %v; want %q", key, err, internal.Data.Token.Key)
		}
		q.MinExpiration = parent.Created.Add(time.Hour)
		if key, err := find(t, q); err != nil || key != internal.Data.Token.Key {
			t.Fatalf("FindChild with expiry bound equal to expiry = %q, %v; want %q", key, err, internal.Data.Token.Key)
		}
		q.MinExpiration = parent.Created.Add(time.Hour + time.Second)
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild past expiry = %v, want ErrNotFound", err)
		}
	})
	t.Run("FindChildTakesLatestExpiry", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		short := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, time.Hour)
		long := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 3*time.Hour)
		mid := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 2*time.Hour)
		add(t, short, long, mid)
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: parent.Created}
		if key, err := find(t, q); err != nil || key != long.Data.Token.Key {
			t.Fatalf("FindChild = %q, %v; want the latest-expiring %q", key, err, long.Data.Token.Key)
		}
	})
	t.Run("FindChildOfTheSameExpiryTakesTheNewest", func(t *testing.T) {
		t.Parallel()
		// Children capped at their parent's expiry share it: the newest
		// replaced the others, which may be revoked from the token store.
		parent := newParent(t)
		newer := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 3*time.Hour)
		newer.Data.Created = newer.Data.Created.Add(time.Hour)
		older := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 3*time.Hour)
		for older.Data.Token.Key > newer.Data.Token.Key { // so that the key alone would pick the older
			older = child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, 3*time.Hour)
		}
		add(t, older, newer)
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: parent.Created}
		if key, err := find(t, q); err != nil || key != newer.Data.Token.Key {
			t.Fatalf("FindChild = %q, %v; want the newer %q, not the older %q", key, err, newer.Data.Token.Key, older.Data.Token.Key)
		}
	})
	t.Run("FindChildPassesOverExcluded", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		first := child(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, 3*time.Hour)
		second := child(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, 2*time.Hour)
		add(t, first, second)
		q := domain.ChildQuery{
			ParentKey: parent.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: []string{"read:all"}, MinExpiration: parent.Created,
			Exclude: []string{first.Data.Token.Key},
		}
		if key, err := find(t, q); err != nil || key != second.Data.Token.Key {
			t.Fatalf("FindChild excluding the first = %q, %v; want the second %q", key, err, second.Data.Token.Key)
		}
		q.Exclude = append(q.Exclude, second.Data.Token.Key)
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild excluding both = %v, want ErrNotFound", err)
		}
		q.Type, q.Service, q.Scopes = domain.TokenTypeNotebook, "", nil
		notebook := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, time.Hour)
		add(t, notebook)
		if key, err := find(t, q); err != nil || key != notebook.Data.Token.Key {
			t.Fatalf("FindChild of a notebook token excluding others = %q, %v; want %q", key, err, notebook.Data.Token.Key)
		}
		q.Exclude = []string{notebook.Data.Token.Key}
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild excluding the notebook token = %v, want ErrNotFound", err)
		}
	})
	t.Run("FindChildNone", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: parent.Created}
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild = %v, want ErrNotFound", err)
		}
	})
	t.Run("LookUpChildCounts", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		other := newParent(t)
		now := parent.Created
		made := func(typ domain.TokenType, service string, ago time.Duration) domain.TokenRecord {
			rec := child(t, parent, typ, service, []string{"read:all"}, 3*time.Hour)
			rec.Data.Created = now.Add(-ago)
			rec.Data.Expires = rec.Data.Created.Add(3 * time.Hour)
			return rec
		}
		notebook := made(domain.TokenTypeNotebook, "", 10*time.Minute)
		add(t,
			made(domain.TokenTypeInternal, "a", 2*time.Hour),
			made(domain.TokenTypeInternal, "b", 30*time.Minute),
			notebook,
			made(domain.TokenTypeInternal, "c", 0),
			child(t, other, domain.TokenTypeInternal, "d", []string{"read:all"}, time.Hour),
		)
		lookUp := func(t *testing.T, tx ports.RepositoryTx, parentKey string, w domain.ChildWindow) ports.ChildLookup {
			t.Helper()
			q := domain.ChildQuery{ParentKey: parentKey, Type: domain.TokenTypeNotebook, MinExpiration: now}
			got, err := tx.LookUpChild(ctx, q, w)
			if err != nil {
				t.Fatalf("LookUpChild: %v", err)
			}
			return got
		}
		counted := func(n int, lastToLeave time.Duration) ports.ChildLookup {
			return ports.ChildLookup{Key: notebook.Data.Token.Key, Recent: domain.ChildCount{N: n, LastToLeave: now.Add(-lastToLeave)}}
		}
		tx := begin(t, domain.CacheKey("porttest-count-"+parent.Token.Key))
		for _, tt := range []struct {
			name      string
			parentKey string
			window    domain.ChildWindow
			want      ports.ChildLookup
		}{
			{"WithinTheLastHour", parent.Token.Key, domain.ChildWindow{Since: now.Add(-time.Hour), Max: 3}, counted(3, 30*time.Minute)},
			{"NewestOfABoundOfOne", parent.Token.Key, domain.ChildWindow{Since: now.Add(-time.Hour), Max: 1}, counted(3, 0)},
			{"SecondNewest", parent.Token.Key, domain.ChildWindow{Since: now.Add(-time.Hour), Max: 2}, counted(3, 10*time.Minute)},
			{"FewerThanTheBound", parent.Token.Key, domain.ChildWindow{Since: now.Add(-time.Hour), Max: 4},
				ports.ChildLookup{Key: notebook.Data.Token.Key, Recent: domain.ChildCount{N: 3}}},
			{"BoundIncluded", parent.Token.Key, domain.ChildWindow{Since: now.Add(-30 * time.Minute), Max: 3}, counted(3, 30*time.Minute)},
			{"BoundPassed", parent.Token.Key, domain.ChildWindow{Since: now.Add(-30*time.Minute + time.Second), Max: 2}, counted(2, 10*time.Minute)},
			{"Everything", parent.Token.Key, domain.ChildWindow{Since: now.Add(-24 * time.Hour), Max: 4}, counted(4, 2*time.Hour)},
			{"MoreThanTheBound", parent.Token.Key, domain.ChildWindow{Since: now.Add(-24 * time.Hour), Max: 3}, counted(4, 30*time.Minute)},
			{"BoundOfZero", parent.Token.Key, domain.ChildWindow{Since: now.Add(-24 * time.Hour), Max: 0},
				ports.ChildLookup{Key: notebook.Data.Token.Key, Recent: domain.ChildCount{N: 4}}},
			{"NoneSince", parent.Token.Key, domain.ChildWindow{Since: now.Add(time.Second), Max: 3}, ports.ChildLookup{Key: notebook.Data.Token.Key}},
			{"UnknownParent", newToken(t).Key, domain.ChildWindow{Since: now.Add(-24 * time.Hour), Max: 3}, ports.ChildLookup{}},
		} {
			got := lookUp(t, tx, tt.parentKey, tt.window)
			if got.Key != tt.want.Key || got.Recent.N != tt.want.Recent.N || !got.Recent.LastToLeave.Equal(tt.want.Recent.LastToLeave) {
				t.Errorf("%s: LookUpChild = %+v, want %+v", tt.name, got, tt.want)
			}
		}
		// The unit of work counts its own additions; others do not see them
		// until it commits.
		if err := tx.AddToken(ctx, made(domain.TokenTypeInternal, "e", 45*time.Minute)); err != nil {
			t.Fatal(err)
		}
		lastHour := func(maxChildren int) domain.ChildWindow {
			return domain.ChildWindow{Since: now.Add(-time.Hour), Max: maxChildren}
		}
		if got := lookUp(t, tx, parent.Token.Key, lastHour(4)).Recent; got.N != 4 || !got.LastToLeave.Equal(now.Add(-45*time.Minute)) {
			t.Errorf("LookUpChild inside the unit of work counted %+v, want 4, the fourth newest its own at %v", got, now.Add(-45*time.Minute))
		}
		if got := lookUp(t, tx, parent.Token.Key, lastHour(3)).Recent; got.N != 4 || !got.LastToLeave.Equal(now.Add(-30*time.Minute)) {
			t.Errorf("LookUpChild inside the unit of work counted %+v, want 4, the third newest at %v", got, now.Add(-30*time.Minute))
		}
		outside := begin(t, domain.CacheKey("porttest-count-other-"+parent.Token.Key))
		if got := lookUp(t, outside, parent.Token.Key, lastHour(4)).Recent; got.N != 3 || !got.LastToLeave.IsZero() {
			t.Errorf("LookUpChild outside before commit counted %+v, want 3, fewer than 4", got)
		}
	})
	t.Run("UnknownParentIsInvalidToken", func(t *testing.T) {
		t.Parallel()
		orphan := child(t, sessionData(t, time.Hour), domain.TokenTypeNotebook, "", []string{"read:all"}, time.Hour)
		tx := begin(t, domain.CacheKey("porttest-"+orphan.Data.Token.Key))
		err := tx.AddToken(ctx, orphan)
		if err == nil {
			err = tx.Commit(ctx)
		}
		if !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("adding a child of an unknown parent = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("UncommittedIsInvisibleAndRollbackDiscards", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		rec := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, time.Hour)
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: parent.Created}
		tx := begin(t, domain.CacheKey("porttest-"+rec.Data.Token.Key))
		if err := tx.AddToken(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if key, err := tx.FindChild(ctx, q); err != nil || key != rec.Data.Token.Key {
			t.Fatalf("FindChild inside the unit of work = %q, %v; want its own addition", key, err)
		}
		if got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: parent.Created, Max: 1}); err != nil || got.Key != rec.Data.Token.Key || got.Recent.N != 1 {
			t.Fatalf("LookUpChild inside the unit of work = %+v, %v; want its own addition, counted", got, err)
		}
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild outside before commit = %v, want ErrNotFound", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := find(t, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild after rollback = %v, want ErrNotFound", err)
		}
	})
	t.Run("RollbackAfterCommitIsHarmless", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		rec := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, time.Hour)
		tx := begin(t, domain.CacheKey("porttest-"+rec.Data.Token.Key))
		if err := tx.AddToken(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback after Commit: %v", err)
		}
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: parent.Created}
		if key, err := find(t, q); err != nil || key != rec.Data.Token.Key {
			t.Fatalf("FindChild after commit = %q, %v", key, err)
		}
	})
	t.Run("TokenExists", func(t *testing.T) {
		t.Parallel()
		parent := newParent(t)
		if ok, err := repo.TokenExists(ctx, parent.Token.Key); err != nil || !ok {
			t.Fatalf("TokenExists(committed) = %v, %v; want true", ok, err)
		}
		rec := child(t, parent, domain.TokenTypeNotebook, "", parent.Scopes, time.Hour)
		tx := begin(t, domain.CacheKey("porttest-"+rec.Data.Token.Key))
		if err := tx.AddToken(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if ok, err := repo.TokenExists(ctx, rec.Data.Token.Key); err != nil || ok {
			t.Fatalf("TokenExists(uncommitted) = %v, %v; want false", ok, err)
		}
		if ok, err := repo.TokenExists(ctx, newToken(t).Key); err != nil || ok {
			t.Fatalf("TokenExists(unknown) = %v, %v; want false", ok, err)
		}
	})
	t.Run("LockExcludesSameName", func(t *testing.T) {
		t.Parallel()
		lock := domain.CacheKey("porttest-lock-" + newToken(t).Key)
		first := begin(t, lock)
		waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if tx, err := repo.Begin(waitCtx, lock); err == nil {
			_ = tx.Rollback(ctx)
			t.Fatal("a second Begin on a held lock did not wait")
		}
		other := begin(t, domain.CacheKey("porttest-lock-"+newToken(t).Key))
		if err := other.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			tx, err := repo.Begin(ctx, lock)
			if err == nil {
				err = tx.Rollback(ctx)
			}
			got <- err
		}()
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("Begin after the holder committed: %v", err)
		}
	})
	t.Run("DeferredLockExcludesSameName", func(t *testing.T) {
		t.Parallel()
		lock := domain.CacheKey("porttest-lock-" + newToken(t).Key)
		q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook, MinExpiration: time.Now()}
		// deferred begins a unit with BeginDeferred and makes its first
		// call within ctx, which may wait for the lock.
		deferred := func(ctx context.Context) (ports.RepositoryTx, error) {
			tx, err := repo.BeginDeferred(ctx, lock)
			if err != nil {
				return nil, err
			}
			if _, err := tx.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
				_ = tx.Rollback(context.Background())
				return nil, err
			}
			return tx, nil
		}
		first := begin(t, lock)
		waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if tx, err := deferred(waitCtx); err == nil {
			_ = tx.Rollback(ctx)
			t.Fatal("a deferred unit's first call on a held lock did not wait")
		}
		if err := first.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		second, err := deferred(ctx)
		if err != nil {
			t.Fatalf("a deferred unit after the holder committed: %v", err)
		}
		// Its first call returned: it holds the lock.
		waitCtx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if tx, err := repo.Begin(waitCtx, lock); err == nil {
			_ = tx.Rollback(ctx)
			t.Fatal("Begin did not wait for a deferred unit that made a call")
		}
		if err := second.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	})
	testRepositoryAsPostgreSQL(t, repo)
}
