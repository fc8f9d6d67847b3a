package memory

import (
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// ChildCache is a bounded LRU of child tokens, safe for concurrent use.
type ChildCache struct {
	lru *lru.Cache[domain.CacheKey, domain.Token]
}

var _ ports.ChildCache = (*ChildCache)(nil)

// NewChildCache returns a cache holding at most size entries.
func NewChildCache(size int) (*ChildCache, error) {
	c, err := lru.New[domain.CacheKey, domain.Token](size)
	if err != nil {
		return nil, fmt.Errorf("creating child cache of size %d: %w", size, err)
	}
	return &ChildCache{lru: c}, nil
}

// Get returns the token cached under key, marking it recently used.
func (c *ChildCache) Get(key domain.CacheKey) (domain.Token, bool) {
	return c.lru.Get(key)
}

// Put caches token under key, evicting the least recently used entry when
// the cache is full.
func (c *ChildCache) Put(key domain.CacheKey, token domain.Token) {
	c.lru.Add(key, token)
}

// Clear removes every entry.
func (c *ChildCache) Clear() {
	c.lru.Purge()
}

// Len is the number of cached entries.
func (c *ChildCache) Len() int {
	return c.lru.Len()
}
