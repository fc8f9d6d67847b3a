package app

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// Rule 4: on a miss, the repository is asked for an existing child of the
// same parent and kind that expires no earlier than the minimum expiration.
// One the token store still holds is returned and cached if it passes rule
// 2's checks of type, user, service and scopes, and its expiry in the token
// store is no earlier than that cut-off too; unlike a cache hit, it need not
// have half of its own lifetime left.

func TestRule4LookupQueryForInternalToken(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all", "read:tap"}, specNow, specLifetime)
	want := domain.ChildQuery{
		ParentKey:     p.Token.Key,
		Type:          domain.TokenTypeInternal,
		Service:       "portal",
		Scopes:        []string{"read:all", "read:tap"},
		MinExpiration: specLifeFrom.Add(specLifetime / 2),
	}
	wantLock := domain.InternalCacheKey(p, "portal", want.Scopes)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), wantLock).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), want).Return(child.Token.Key, nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)

	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:tap", "read:all"}, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the stored child", got.Key, err)
	}
	if c := f.observer.Counts(); c.Lookups != 1 || c.LookupsFound != 1 || c.Created != 0 {
		t.Fatalf("observer counts = %+v", c)
	}

	// It is cached now.
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	if got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all", "read:tap"}, "192.0.2.1", 0); err != nil || got != child.Token {
		t.Fatalf("second request = %v, %v; want the now cached child", got.Key, err)
	}
}

func TestRule4LookupQueryUsesMinimumLifetime(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	want := domain.ChildQuery{
		ParentKey:     p.Token.Key,
		Type:          domain.TokenTypeNotebook,
		Scopes:        p.Scopes,
		MinExpiration: specLifeFrom.Add(3 * time.Hour),
	}
	f.repo.EXPECT().BeginDeferred(gomock.Any(), domain.NotebookCacheKey(p)).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), want).Return(child.Token.Key, nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 3*time.Hour); err != nil || got != child.Token {
		t.Fatalf("got %v, %v", got.Key, err)
	}
}

func TestRule4LookupQueryCappedAtParentExpiry(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t) // expires in 2 h, before now + half the token lifetime
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, q domain.ChildQuery) (string, error) {
		if !q.MinExpiration.Equal(p.Expires) {
			t.Errorf("MinExpiration = %v, want the parent's expiry %v", q.MinExpiration, p.Expires)
		}
		return "", errNotFoundSpec
	})
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	if _, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
}

func TestRule4FoundChildMissingFromStoreIsReplaced(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	stale := newSpecToken(t)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	gomock.InOrder(
		f.tx.EXPECT().FindChild(gomock.Any(), excluding()).Return(stale.Key, nil),
		f.tx.EXPECT().FindChild(gomock.Any(), excluding(stale.Key)).Return("", errNotFoundSpec),
	)
	f.store.EXPECT().GetByKey(gomock.Any(), stale.Key).Return(domain.TokenData{}, errNotFoundSpec)
	var created domain.TokenData
	storing := f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		created = d
		return nil
	})
	adding := f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil).After(storing).After(adding)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got == stale || got != created.Token {
		t.Fatalf("got %v, %v; want a new child", got.Key, err)
	}
	if c := f.observer.Counts(); c.Lookups != 1 || c.LookupsFound != 0 || c.Created != 1 {
		t.Fatalf("observer counts = %+v", c)
	}
}

func TestRule4FoundChildFailingRule2IsReplaced(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// Found, but it carries a scope the parent no longer has.
	child := childOf(t, p, domain.TokenTypeNotebook, "", []string{"admin:token", "read:all"}, specNow, specLifetime)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	gomock.InOrder(
		f.tx.EXPECT().FindChild(gomock.Any(), excluding()).Return(child.Token.Key, nil),
		f.tx.EXPECT().FindChild(gomock.Any(), excluding(child.Token.Key)).Return("", errNotFoundSpec),
	)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got == child.Token {
		t.Fatalf("got %v, %v; want a new child", got.Key, err)
	}
}

func TestRule4FoundChildPastHalfLifeIsReused(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// Made 30 of its 48 hours ago, when the token lifetime was longer: 18
	// hours left, under half its lifetime but after the lookup's cut-off
	// (now plus half the token lifetime), and before the expiry a new child
	// would get, so rule 3 does not apply.
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow.Add(-30*time.Hour), 48*time.Hour)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, q domain.ChildQuery) (string, error) {
		if child.Expires.Before(q.MinExpiration) {
			t.Errorf("the child expires at %v, before the lookup's cut-off %v: the spec is wrong", child.Expires, q.MinExpiration)
		}
		return child.Token.Key, nil
	})
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the stored child", got.Key, err)
	}
	if c := f.observer.Counts(); c.LookupsFound != 1 || c.Created != 0 {
		t.Fatalf("observer counts = %+v", c)
	}
}

func TestRule4FoundChildWithUnknownServiceIsReused(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// Written before Gafaelfawr 12.0: the service is in the repository's
	// row, which the lookup matched, but not in the token store.
	child := childOf(t, p, domain.TokenTypeInternal, "", []string{"read:all"}, specNow, specLifetime)
	f.expectLookupFinds(child.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the stored child", got.Key, err)
	}
	if c := f.observer.Counts(); c.LookupsFound != 1 || c.Created != 0 {
		t.Fatalf("observer counts = %+v", c)
	}
}

func TestRule4FoundChildRefusedByTokenStoreDataIsReplaced(t *testing.T) {
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow, specLifetime)
	cutOff := specNow.Add(specLifetime / 2)
	tests := []struct {
		name string
		edit func(*domain.TokenData)
	}{
		{"another service", func(d *domain.TokenData) { d.Service = "tap" }},
		{"another user", func(d *domain.TokenData) { d.Username = "mallory" }},
		{"another type", func(d *domain.TokenData) { d.Type = domain.TokenTypeNotebook }},
		{"expiring before the cut-off", func(d *domain.TokenData) { d.Expires = cutOff.Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			// The repository's row matched the lookup; the token store
			// says otherwise.
			stored := child.Clone()
			tt.edit(&stored)
			f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
			gomock.InOrder(
				f.tx.EXPECT().FindChild(gomock.Any(), excluding()).Return(child.Token.Key, nil),
				f.tx.EXPECT().FindChild(gomock.Any(), excluding(child.Token.Key)).Return("", errNotFoundSpec),
			)
			f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(stored, nil)
			f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
			f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
			f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
			got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
			if err != nil || got == child.Token {
				t.Fatalf("got %v, %v; want a new child", got.Key, err)
			}
		})
	}
}

func TestRule4NextCandidateAfterOneRevokedFromTheStore(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// The best match's rows outlived its token, revoked from the store;
	// the next best is still there and is handed out, not replaced.
	revoked := newSpecToken(t)
	live := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	gomock.InOrder(
		f.tx.EXPECT().FindChild(gomock.Any(), excluding()).Return(revoked.Key, nil),
		f.tx.EXPECT().FindChild(gomock.Any(), excluding(revoked.Key)).Return(live.Token.Key, nil),
	)
	f.store.EXPECT().GetByKey(gomock.Any(), revoked.Key).Return(domain.TokenData{}, errNotFoundSpec)
	f.store.EXPECT().GetByKey(gomock.Any(), live.Token.Key).Return(live, nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got != live.Token {
		t.Fatalf("got %v, %v; want the live child %v", got.Key, err, live.Token.Key)
	}
	if c := f.observer.Counts(); c.LookupsFound != 1 || c.Created != 0 {
		t.Fatalf("observer counts = %+v", c)
	}
}

func TestRule4CandidatesAreBounded(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// Every candidate is gone from the store: after maxCandidates of them
	// a new child is made rather than reading on.
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	var offered []string
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Times(maxCandidates).
		DoAndReturn(func(_ context.Context, q domain.ChildQuery) (string, error) {
			if len(q.Exclude) != len(offered) {
				t.Errorf("lookup %d excludes %d children, want the %d offered before", len(offered)+1, len(q.Exclude), len(offered))
			}
			offered = append(offered, newSpecToken(t).Key)
			return offered[len(offered)-1], nil
		})
	f.store.EXPECT().GetByKey(gomock.Any(), gomock.Any()).Times(maxCandidates).Return(domain.TokenData{}, errNotFoundSpec)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	if _, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
}

// excluding matches a child query that passes over exactly keys.
func excluding(keys ...string) gomock.Matcher { return excludeMatcher(keys) }

type excludeMatcher []string

func (m excludeMatcher) Matches(x any) bool {
	q, ok := x.(domain.ChildQuery)
	return ok && slices.Equal(q.Exclude, []string(m))
}

func (m excludeMatcher) String() string {
	return fmt.Sprintf("a child query excluding %q", []string(m))
}

func TestRule4RepositoryFailuresAreReported(t *testing.T) {
	t.Run("Begin", func(t *testing.T) {
		f := newFixture(t)
		f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(nil, errUnreachable)
		_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
		if !errorsIs(err, errUnreachable) || f.observer.Counts().StoreErrors != 1 {
			t.Fatalf("err = %v, counts %+v", err, f.observer.Counts())
		}
		wantStoreErrors(t, f.observer, map[string]int{"repository.begin": 1})
	})
	t.Run("FindChild", func(t *testing.T) {
		f := newFixture(t)
		f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
		f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errUnreachable)
		f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
		_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
		if !errorsIs(err, errUnreachable) || f.observer.Counts().StoreErrors != 1 {
			t.Fatalf("err = %v, counts %+v", err, f.observer.Counts())
		}
		wantStoreErrors(t, f.observer, map[string]int{"repository.find": 1})
	})
	t.Run("TokenStoreReadOfFoundChild", func(t *testing.T) {
		f := newFixture(t)
		key := newSpecToken(t).Key
		f.expectLookupFinds(key)
		f.store.EXPECT().GetByKey(gomock.Any(), key).Return(domain.TokenData{}, errUnreachable)
		_, err := f.svc.GetNotebookToken(context.Background(), parent(t), "192.0.2.1", 0)
		if !errorsIs(err, errUnreachable) || f.observer.Counts().StoreErrors != 1 {
			t.Fatalf("err = %v, counts %+v", err, f.observer.Counts())
		}
		wantStoreErrors(t, f.observer, map[string]int{"token_store.get": 1})
	})
}

func TestRule4CappedChildOfParentWithFractionalExpiryIsFound(t *testing.T) {
	w := newMemoryWorld(t, 10)
	p := w.addParent(t)
	// Expiring within half the token lifetime, so the lookup is capped at
	// the parent's expiry, and at a fraction of a second, which the child's
	// whole-second expiry rounds down.
	p.Expires = time.Now().Add(2*time.Hour + 500*time.Millisecond)
	ctx := context.Background()
	first, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("after Clear got %s, want the existing child %s from the repository", again.Key, first.Key)
	}
	if n := len(w.repo.Children(p.Token.Key)); n != 1 {
		t.Fatalf("%d children recorded, want 1", n)
	}
}

// The first lookup goes in one message with the repository's lock
// (BeginDeferred) and may wait for it, so its cut-off is as of before the
// wait. A child it offers is judged by the cut-off as of its answer, the
// lock held, and so are the lookups after it: a child with less than the
// minimum lifetime left by then is passed over.
func TestRule4CutOffIsTakenAgainAfterTheLockWait(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	const minimum, wait = 3 * time.Hour, time.Minute
	before := specLifeFrom.Add(minimum) // the cut-off as the lookup is sent
	// It expires after that cut-off, but before the one after the wait.
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, minimum+wait/2)
	var created domain.TokenData
	gomock.InOrder(
		f.repo.EXPECT().BeginDeferred(gomock.Any(), domain.NotebookCacheKey(p)).Return(f.tx, nil),
		f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, q domain.ChildQuery) (string, error) {
			if !q.MinExpiration.Equal(before) {
				t.Errorf("first lookup's MinExpiration = %v, want %v", q.MinExpiration, before)
			}
			f.clock.Advance(wait) // waiting for the lock
			return child.Token.Key, nil
		}),
		f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil),
		f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, q domain.ChildQuery) (string, error) {
			if want := before.Add(wait); !q.MinExpiration.Equal(want) || !slices.Equal(q.Exclude, []string{child.Token.Key}) {
				t.Errorf("second lookup: MinExpiration %v, Exclude %v; want %v and the passed-over child", q.MinExpiration, q.Exclude, want)
			}
			return "", errNotFoundSpec
		}),
	)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		created = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)

	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", minimum)
	if err != nil {
		t.Fatal(err)
	}
	if got == child.Token {
		t.Fatalf("handed out %s, which has %v left of the %v asked for", got.Key, child.Expires.Sub(f.clock.Now()), minimum)
	}
	if got != created.Token {
		t.Fatalf("got %s, want the new child %s", got.Key, created.Token.Key)
	}
}
