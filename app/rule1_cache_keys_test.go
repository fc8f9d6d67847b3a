package app

import (
	"context"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// Rule 1: notebook children are cached by (parent key, parent expiry);
// internal children also by service and canonical scopes.

func TestRule1NotebookCachedByParentKeyAndExpiry(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	// The same parent again: one store read, no repository.
	f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.9", 0)
	if err != nil || got != child.Token {
		t.Fatalf("second request = %v, %v; want the cached child", got.Key, err)
	}
}

func TestRule1ChangedParentExpiryIsAnotherKey(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	p.Expires = p.Expires.Add(time.Hour)
	other := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.expectLookupFinds(other.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), other.Token.Key).Return(other, nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got != other.Token {
		t.Fatalf("after the parent's expiry changed = %v, %v; want a fresh lookup's child", got.Key, err)
	}
}

func TestRule1InternalKeyHasServiceAndCanonicalScopes(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	scopes := []string{"read:tap", "read:all"}
	child := childOf(t, p, domain.TokenTypeInternal, "portal", []string{"read:all", "read:tap"}, specNow, specLifetime)
	f.cacheInternal(t, p, "portal", scopes, child)

	t.Run("ScopeOrderAndDuplicatesDoNotMatter", func(t *testing.T) {
		f.store.EXPECT().Get(gomock.Any(), child.Token).Return(child, nil)
		got, err := f.svc.GetInternalToken(context.Background(), p, "portal",
			[]string{"read:all", "read:tap", "read:all"}, "192.0.2.1", 0)
		if err != nil || got != child.Token {
			t.Fatalf("got %v, %v; want the cached child", got.Key, err)
		}
	})
	t.Run("AnotherServiceIsAnotherKey", func(t *testing.T) {
		var created domain.TokenData
		f.expectCreate(&created)
		got, err := f.svc.GetInternalToken(context.Background(), p, "tap", scopes, "192.0.2.1", 0)
		if err != nil || got == child.Token || created.Service != "tap" {
			t.Fatalf("got %v, %v (service %q); want a new child for tap", got.Key, err, created.Service)
		}
	})
	t.Run("OtherScopesAreAnotherKey", func(t *testing.T) {
		var created domain.TokenData
		f.expectCreate(&created)
		got, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0)
		if err != nil || got == child.Token {
			t.Fatalf("got %v, %v; want a new child", got.Key, err)
		}
	})
}

func TestRule1NotebookAndInternalCachesAreSeparate(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)

	var created domain.TokenData
	f.expectCreate(&created)
	got, err := f.svc.GetInternalToken(context.Background(), p, "portal", p.Scopes, "192.0.2.1", 0)
	if err != nil || got == child.Token || created.Type != domain.TokenTypeInternal {
		t.Fatalf("got %v, %v (type %q); want a new internal child", got.Key, err, created.Type)
	}
}
