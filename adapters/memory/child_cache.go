package memory

import (
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// ChildCache is a bounded LRU of child tokens, safe for concurrent use.
//
// Readers share it: a thousand requests for one child look it up at once
// rather than one after the other, which matters most when it is not
// there. A hit marks its entry recently used only if no other goroutine is
// using the cache at that moment; those that are mark the entries they
// use, so an entry in use is never the one evicted for long.
type ChildCache struct {
	mu  sync.RWMutex
	lru *simplelru.LRU[domain.CacheKey, domain.Token]
}

var _ ports.ChildCache = (*ChildCache)(nil)

// NewChildCache returns a cache holding at most size entries.
func NewChildCache(size int) (*ChildCache, error) {
	c, err := simplelru.NewLRU[domain.CacheKey, domain.Token](size, nil)
	if err != nil {
		return nil, fmt.Errorf("creating child cache of size %d: %w", size, err)
	}
	return &ChildCache{lru: c}, nil
}

// Get returns the token cached under key, marking it recently used unless
// the cache is busy (see ChildCache).
func (c *ChildCache) Get(key domain.CacheKey) (domain.Token, bool) {
	c.mu.RLock()
	token, ok := c.lru.Peek(key)
	c.mu.RUnlock()
	if ok && c.mu.TryLock() {
		c.lru.Get(key)
		c.mu.Unlock()
	}
	return token, ok
}

// Put caches token under key, evicting the least recently used entry when
// the cache is full.
func (c *ChildCache) Put(key domain.CacheKey, token domain.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(key, token)
}

// Clear removes every entry.
func (c *ChildCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
}

// Len is the number of cached entries.
func (c *ChildCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lru.Len()
}
