package app

import (
	"context"
	"testing"
)

// Rule 8: the caches are LRUs of CacheSize entries each; Clear empties both.

func TestRule8CachesAreBoundedLRUs(t *testing.T) {
	w := newMemoryWorld(t, 2)
	ctx := context.Background()
	p := w.addParent(t)
	get := func(service string) {
		t.Helper()
		if _, err := w.svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0); err != nil {
			t.Fatal(err)
		}
	}
	get("a")
	get("b")
	get("c") // evicts a
	before := w.observer.Counts()
	get("c")
	get("b")
	if c := w.observer.Counts(); c.CacheHits != before.CacheHits+2 || c.Lookups != before.Lookups {
		t.Fatalf("b and c should still be cached: before %+v, after %+v", before, c)
	}
	get("a")
	c := w.observer.Counts()
	if c.Lookups != before.Lookups+1 || c.LookupsFound != before.LookupsFound+1 || c.Created != 3 {
		t.Fatalf("a should have been evicted and found in the repository: before %+v, after %+v", before, c)
	}
	// A notebook token has a cache of its own and evicts no internal token.
	if _, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	before = w.observer.Counts()
	get("a")
	get("b")
	if c := w.observer.Counts(); c.CacheHits != before.CacheHits+2 {
		t.Fatalf("the notebook token evicted internal ones: before %+v, after %+v", before, c)
	}
}

func TestRule8ClearEmptiesBothCachesAndStoresKeepChildren(t *testing.T) {
	w := newMemoryWorld(t, 10)
	ctx := context.Background()
	p := w.addParent(t)
	notebook, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	internal, err := w.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	before := w.observer.Counts()
	n2, err := w.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	i2, err := w.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := w.observer.Counts()
	if n2 != notebook || i2 != internal {
		t.Fatal("after Clear, the existing children should be found in the repository")
	}
	if c.CacheHits != before.CacheHits || c.LookupsFound != before.LookupsFound+2 || c.Created != 2 {
		t.Fatalf("after Clear: before %+v, after %+v; want two repository finds and nothing new", before, c)
	}
	if rows := len(w.repo.Children(p.Token.Key)); rows != 2 {
		t.Fatalf("%d children recorded, want 2", rows)
	}
}
