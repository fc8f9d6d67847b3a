//go:build wireinject

package app

import "github.com/google/wire"

// InitializeInMemory composes the service over the in-memory adapters.
func InitializeInMemory(cfg Config) (*TokenCacheService, func(), error) {
	wire.Build(MemorySet, ServiceSet)
	return nil, nil, nil
}
