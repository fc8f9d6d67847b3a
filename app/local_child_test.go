package app

import (
	"context"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// A child is told without I/O only when the cache names it and the token
// store holds it in process memory, where it passes the reuse rules; the
// only store call is GetLocal, and only a child handed out counts, as a
// cache hit. A request the service refuses reads nothing. Anything else
// is false, for GetNotebookToken or GetInternalToken to answer and count.
func TestLocalChildSpec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scopes := []string{"read:all"}

	t.Run("held and reusable", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := parent(t)
		child := childOf(t, p, domain.TokenTypeInternal, "portal", scopes, specNow, specLifetime)
		f.cacheInternal(t, p, "portal", scopes, child)
		before := f.observer.Counts()
		f.local.EXPECT().GetLocal(gomock.Any(), child.Token).Return(child, true)
		got, ok := f.svc.LocalInternalToken(ctx, p, "portal", scopes, "192.0.2.1", 0)
		if !ok || got != child.Token {
			t.Fatalf("LocalInternalToken = %v, %v; want the cached child", got.Key, ok)
		}
		after := f.observer.Counts()
		if after.CacheHits != before.CacheHits+1 || after.CacheMisses != before.CacheMisses {
			t.Errorf("counts went from %+v to %+v; want one more cache hit", before, after)
		}
	})

	t.Run("nothing cached", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if got, ok := f.svc.LocalNotebookToken(ctx, parent(t), "192.0.2.1", 0); ok {
			t.Fatalf("LocalNotebookToken = %v for a child never cached", got.Key)
		}
		if c := f.observer.Counts(); c.CacheMisses != 0 || c.CacheHits != 0 {
			t.Errorf("counts %+v; the request that follows counts the miss", c)
		}
	})

	t.Run("not in process memory", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := parent(t)
		child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
		f.cacheNotebook(t, p, child)
		before := f.observer.Counts()
		f.local.EXPECT().GetLocal(gomock.Any(), child.Token).Return(domain.TokenData{}, false)
		if got, ok := f.svc.LocalNotebookToken(ctx, p, "192.0.2.1", 0); ok {
			t.Fatalf("LocalNotebookToken = %v for a child the store does not hold in memory", got.Key)
		}
		if after := f.observer.Counts(); after != before {
			t.Errorf("counts went from %+v to %+v", before, after)
		}
	})

	t.Run("past half its lifetime", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := parent(t)
		child := childOf(t, p, domain.TokenTypeInternal, "portal", scopes, specNow, specLifetime)
		f.cacheInternal(t, p, "portal", scopes, child)
		f.clock.Advance(specLifetime/2 + time.Second)
		before := f.observer.Counts()
		f.local.EXPECT().GetLocal(gomock.Any(), child.Token).Return(child, true)
		if got, ok := f.svc.LocalInternalToken(ctx, p, "portal", scopes, "192.0.2.1", 0); ok {
			t.Fatalf("LocalInternalToken = %v, a child past half its lifetime", got.Key)
		}
		if after := f.observer.Counts(); after != before {
			t.Errorf("counts went from %+v to %+v", before, after)
		}
	})

	t.Run("invalid request", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := parent(t)
		child := childOf(t, p, domain.TokenTypeInternal, "portal", scopes, specNow, specLifetime)
		f.cacheInternal(t, p, "portal", scopes, child)
		// No GetLocal: a request refused before any store is read.
		if got, ok := f.svc.LocalInternalToken(ctx, p, "portal", scopes, "192.0.2.1", 2*specLifetime); ok {
			t.Fatalf("LocalInternalToken = %v for a minimum lifetime GetInternalToken refuses", got.Key)
		}
		if got, ok := f.svc.LocalInternalToken(ctx, p, "port al", scopes, "192.0.2.1", 0); ok {
			t.Fatalf("LocalInternalToken = %v for a service name GetInternalToken refuses", got.Key)
		}
	})
}
