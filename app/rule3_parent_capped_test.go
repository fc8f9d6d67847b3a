package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// Rule 3: a cached child whose expiry is already the latest any new child
// could get (the parent's expiry) is reused past half-life, without
// touching the repository, as long as the minimum lifetime is met.

// shortParent is a parent expiring in two hours, so its children are capped.
func shortParent(t *testing.T) domain.TokenData {
	t.Helper()
	p := parent(t)
	p.Expires = specNow.Truncate(time.Second).Add(2 * time.Hour)
	return p
}

func TestRule3ParentCappedChildReusedPastHalfLifeWithoutRepository(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, 2*time.Hour)
	f.cacheNotebook(t, p, child)

	f.clock.Advance(90 * time.Minute) // a quarter of its life left
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil).Times(2)
	// No repository call is expected: gomock fails the test on any.
	for _, minimum := range []time.Duration{0, 20 * time.Minute} {
		got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", minimum)
		if err != nil || got != child.Token {
			t.Fatalf("minimum %v: got %v, %v; want the cached child", minimum, got.Key, err)
		}
	}
}

func TestRule3ParentCappedChildStillNeedsTheMinimumLifetime(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, 2*time.Hour)
	f.cacheNotebook(t, p, child)

	f.clock.Advance(90 * time.Minute)
	// 30 minutes left; asking for 40 cannot be met by the parent at all.
	// The input guard refuses it before the cache is read: a child capped
	// at its parent's expiry lives as long as the parent, so a minimum the
	// parent meets it meets too, and this guard is what enforces it.
	_, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 40*time.Minute)
	if !errors.Is(err, domain.ErrInsufficientLifetime) {
		t.Fatalf("err = %v, want ErrInsufficientLifetime", err)
	}
}

func TestRule3UncappedChildPastHalfLifeIsReplaced(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t)
	// Created when the token lifetime was shorter: it expires an hour
	// before the parent, so a new child could do better. It is cached by a
	// request whose minimum lifetime of half an hour made the repository
	// lookup's cut-off earlier than the parent's expiry.
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, time.Hour)
	f.expectLookupFinds(child.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	if got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 30*time.Minute); err != nil || got != child.Token {
		t.Fatalf("priming the cache: got %v, %v", got.Key, err)
	}

	f.clock.Advance(45 * time.Minute)
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	f.expectReplaced(t, child.Token, func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	})
}

func TestRule3AppliesToChildrenFoundInRepository(t *testing.T) {
	f := newFixture(t)
	p := shortParent(t)
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all"}, specNow, 2*time.Hour)
	f.clock.Advance(90 * time.Minute)

	f.expectLookupFinds(child.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("got %v, %v; want the stored parent-capped child", got.Key, err)
	}
}
