package ports

//go:generate go tool mockgen -destination ../mocks/child_cache.go -package mocks -source child_cache.go

import "github.com/tokencache/tokencache/domain"

// ChildCache remembers which child token was handed out for a cache key. It
// lives in the process and never blocks on I/O, so its methods take no
// context. It is bounded: adding beyond its size evicts the least recently
// used entry.
type ChildCache interface {
	// Get returns the token cached under key and true, or false if there is
	// none.
	Get(key domain.CacheKey) (domain.Token, bool)

	// Put caches token under key, replacing any entry there.
	Put(key domain.CacheKey, token domain.Token)

	// Clear removes every entry.
	Clear()
}
