package memory

import (
	"sync"
	"sync/atomic"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Counts is a snapshot of what an Observer has seen.
type Counts struct {
	CacheHits, CacheMisses, Lookups, LookupsFound, Created, Refused, StoreErrors int
}

// Observer counts the service's events in memory. Each count is a counter
// of its own, so that requests counting at once never wait for each
// other; a snapshot taken meanwhile may show one event's counts in part.
type Observer struct {
	cacheHits, cacheMisses, lookups, lookupsFound, created, refused, storeErrors atomic.Int64

	// byOperation counts store failures by operation: string to
	// *atomic.Int64.
	byOperation sync.Map
}

var _ ports.Observer = (*Observer)(nil)

// NewObserver returns an observer with all counts at zero.
func NewObserver() *Observer { return &Observer{} }

// Counts returns the counts so far.
func (o *Observer) Counts() Counts {
	return Counts{
		CacheHits:    int(o.cacheHits.Load()),
		CacheMisses:  int(o.cacheMisses.Load()),
		Lookups:      int(o.lookups.Load()),
		LookupsFound: int(o.lookupsFound.Load()),
		Created:      int(o.created.Load()),
		Refused:      int(o.refused.Load()),
		StoreErrors:  int(o.storeErrors.Load()),
	}
}

// CacheHit counts a cache hit.
func (o *Observer) CacheHit(domain.TokenType) { o.cacheHits.Add(1) }

// CacheMiss counts a cache miss.
func (o *Observer) CacheMiss(domain.TokenType) { o.cacheMisses.Add(1) }

// RepositoryLookup counts a repository lookup, and whether it found a child.
func (o *Observer) RepositoryLookup(_ domain.TokenType, found bool) {
	o.lookups.Add(1)
	if found {
		o.lookupsFound.Add(1)
	}
}

// ChildCreated counts a created child.
func (o *Observer) ChildCreated(domain.TokenType) { o.created.Add(1) }

// ChildRefused counts a child refused for its parent's budget.
func (o *Observer) ChildRefused(domain.TokenType) { o.refused.Add(1) }

// StoreError counts a store failure, in all and by operation.
func (o *Observer) StoreError(operation string) {
	o.storeErrors.Add(1)
	n, _ := o.byOperation.LoadOrStore(operation, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// StoreErrorsFor is the count of store failures of operation so far.
func (o *Observer) StoreErrorsFor(operation string) int {
	if n, ok := o.byOperation.Load(operation); ok {
		return int(n.(*atomic.Int64).Load())
	}
	return 0
}
