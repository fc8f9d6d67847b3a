//go:build wireinject

package app

import (
	"context"

	"github.com/google/wire"
)

// InitializeInMemory composes the service over the in-memory adapters.
// The cleanup closes the service.
func InitializeInMemory(cfg Config) (*TokenCacheService, func(), error) {
	wire.Build(MemorySet, ServiceSet)
	return nil, nil, nil
}

// InitializeTokenCacheService composes the service over Redis and
// PostgreSQL, located by cfg. The cleanup closes the service, then both
// connections; on error whatever was opened is already closed.
func InitializeTokenCacheService(ctx context.Context, cfg Config) (*TokenCacheService, func(), error) {
	wire.Build(RealSet, ServiceSet)
	return nil, nil, nil
}
