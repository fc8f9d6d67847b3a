package memory

import (
	"sync"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Counts is a snapshot of what an Observer has seen.
type Counts struct {
	CacheHits, CacheMisses, Lookups, LookupsFound, Created, Refused, StoreErrors int
}

// Observer counts the service's events in memory.
type Observer struct {
	mu     sync.Mutex
	counts Counts
}

var _ ports.Observer = (*Observer)(nil)

// NewObserver returns an observer with all counts at zero.
func NewObserver() *Observer { return &Observer{} }

// Counts returns the counts so far.
func (o *Observer) Counts() Counts {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts
}

// CacheHit counts a cache hit.
func (o *Observer) CacheHit(domain.TokenType) { o.add(func(c *Counts) { c.CacheHits++ }) }

// CacheMiss counts a cache miss.
func (o *Observer) CacheMiss(domain.TokenType) { o.add(func(c *Counts) { c.CacheMisses++ }) }

// RepositoryLookup counts a repository lookup, and whether it found a child.
func (o *Observer) RepositoryLookup(_ domain.TokenType, found bool) {
	o.add(func(c *Counts) {
		c.Lookups++
		if found {
			c.LookupsFound++
		}
	})
}

// ChildCreated counts a created child.
func (o *Observer) ChildCreated(domain.TokenType) { o.add(func(c *Counts) { c.Created++ }) }

// ChildRefused counts a child refused for its parent's budget.
func (o *Observer) ChildRefused(domain.TokenType) { o.add(func(c *Counts) { c.Refused++ }) }

// StoreError counts a store failure.
func (o *Observer) StoreError(string) { o.add(func(c *Counts) { c.StoreErrors++ }) }

func (o *Observer) add(f func(*Counts)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(&o.counts)
}
