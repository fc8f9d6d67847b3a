package app

import (
	"context"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// Rule 2: a cached child is reused only if the token store still holds it
// with a matching secret, it is for the requested service (or, written
// before Gafaelfawr 12.0, for an unknown one), its scopes are a subset of
// those requested (of the parent's current scopes for notebooks), and it
// has enough life left.

// expectReplaced expects the cache entry to be passed over: a repository
// lookup that finds nothing and a new child.
func (f *fixture) expectReplaced(t *testing.T, old domain.Token, request func() (domain.Token, error)) {
	t.Helper()
	var created domain.TokenData
	f.expectCreate(&created)
	got, err := request()
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got == old || got != created.Token {
		t.Fatalf("got %v; want the new child %v, not the cached %v", got.Key, created.Token.Key, old.Key)
	}
}

func TestRule2CachedChildReadWithFullTokenForSecretCheck(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	// The store compares the secret; the service must hand it the whole
	// token, and treat a mismatch (ErrNotFound) as a miss.
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(domain.TokenData{}, errNotFoundSpec)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	})
}

func TestRule2CachedChildMissingFromStoreIsReplaced(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow, specLifetime)
	f.cacheInternal(t, p, "portal", []string{"read:all"}, child)

	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(domain.TokenData{}, errNotFoundSpec) // once: not again after the lock
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	})
}

func TestRule2InternalChildWithUnknownServiceIsReused(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	// Written before Gafaelfawr 12.0: the token store has no service.
	child := childOf(t, p, domain.TokenTypeInternal, "", []string{"read:all"}, specNow, specLifetime)
	f.cacheInternal(t, p, "portal", []string{"read:all"}, child)

	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	// No repository call is expected: gomock fails the test on any.
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the cached child", got.Key, err)
	}
}

func TestRule2InternalChildOfAnotherServiceIsReplaced(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow, specLifetime)
	f.cacheInternal(t, p, "portal", []string{"read:all"}, child)

	// The store now says the child is for another service.
	other := child.Clone()
	other.Service = "tap"
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(other, nil)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	})
}

func TestRule2InternalChildScopesMustBeSubsetOfRequested(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow, specLifetime)
	f.cacheInternal(t, p, "portal", []string{"read:all"}, child)

	// The store now says the child carries more than was asked for.
	widened := child.Clone()
	widened.Scopes = []string{"exec:notebook", "read:all"}
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(widened, nil)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	})
}

func TestRule2NotebookChildNeedsParentsCurrentScopes(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	// The parent lost read:tap; its notebook child still has it.
	p.Scopes = []string{"exec:notebook", "read:all"}
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	var created domain.TokenData
	f.expectCreate(&created)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got == child.Token {
		t.Fatalf("got %v, %v; want a new child", got.Key, err)
	}
	if !domain.ScopesSubset(created.Scopes, p.Scopes) || len(created.Scopes) != 2 {
		t.Fatalf("new child's scopes = %v, want the parent's current %v", created.Scopes, p.Scopes)
	}
}

func TestRule2PastHalfLifeIsReplaced(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	f.clock.Advance(specLifetime/2 - time.Second) // just over half left: still enough
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil || got != child.Token {
		t.Fatalf("just before half-life = %v, %v; want the cached child", got.Key, err)
	}

	f.clock.Advance(time.Second) // half left to the second, as Gafaelfawr counts it: still enough
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil || got != child.Token {
		t.Fatalf("at half-life in whole seconds = %v, %v; want the cached child", got.Key, err)
	}

	f.clock.Advance(time.Second) // under half left
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	})
}

func TestRule2MinimumLifetimeReplacesHalfLife(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)
	f.clock.Advance(20 * time.Hour) // about 4 h left: past half-life

	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 3*time.Hour); err != nil || got != child.Token {
		t.Fatalf("with 4h left and a 3h minimum = %v, %v; want the cached child", got.Key, err)
	}

	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 5*time.Hour)
	})
}

func TestRule2ChildWithoutExpiryAlwaysHasEnoughLife(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	p.Expires = time.Time{}
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	child.Expires = time.Time{}
	f.cacheNotebook(t, p, child)

	f.clock.Advance(365 * 24 * time.Hour)
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", time.Hour); err != nil || got != child.Token {
		t.Fatalf("a year on = %v, %v; want the cached child", got.Key, err)
	}
}

func TestRule2StoreFailureOnCacheReadIsReported(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(domain.TokenData{}, errUnreachable)
	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err == nil || !errorsIs(err, errUnreachable) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if n := f.observer.Counts().StoreErrors; n != 1 {
		t.Fatalf("StoreErrors = %d, want 1", n)
	}
	wantStoreErrors(t, f.observer, map[string]int{"token_store.get": 1})
}

// A cached read that outlasts the creation timeout, for a caller without
// a deadline, fails, and counts as the store's failure: the read's shared
// deadline (readBounds) carries the creation timeout as its cause.
func TestRule2CachedReadPastTheCreationTimeoutIsReported(t *testing.T) {
	f := newFixture(t)
	f.svc.readBounds = &readBounds{timeout: 50 * time.Millisecond}
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	f.store.EXPECT().Get(gomock.Any(), child.Token).DoAndReturn(func(ctx context.Context, _ domain.Token) (domain.TokenData, error) {
		<-ctx.Done()
		return domain.TokenData{}, ctx.Err()
	})
	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if !errorsIs(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the read's deadline exceeded", err)
	}
	wantStoreErrors(t, f.observer, map[string]int{"token_store.get": 1})
}
