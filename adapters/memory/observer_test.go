package memory_test

import (
	"sync"
	"testing"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
)

// Counting from many goroutines at once loses nothing.
func TestObserverCountsConcurrentEvents(t *testing.T) {
	o := memory.NewObserver()
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				o.CacheHit(domain.TokenTypeNotebook)
				o.CacheMiss(domain.TokenTypeInternal)
				o.RepositoryLookup(domain.TokenTypeNotebook, i%2 == 0)
				o.ChildCreated(domain.TokenTypeNotebook)
				o.ChildRefused(domain.TokenTypeInternal)
				o.StoreError("token_store.get")
			}
		}()
	}
	wg.Wait()
	const n = goroutines * each
	want := memory.Counts{CacheHits: n, CacheMisses: n, Lookups: n, LookupsFound: n / 2, Created: n, Refused: n, StoreErrors: n}
	if got := o.Counts(); got != want {
		t.Fatalf("Counts = %+v, want %+v", got, want)
	}
}
