//go:build wireinject

package app

import (
	"context"

	"github.com/google/wire"
)

// InitializeInMemory composes the service over the in-memory adapters,
// whose stores it keeps to itself: it hands out no child, as no parent can
// be recorded (see InitializeInMemoryStores). The cleanup closes the
// service.
func InitializeInMemory(cfg Config) (*TokenCacheService, func(), error) {
	wire.Build(MemorySet, ServiceSet)
	return nil, nil, nil
}

// InitializeInMemoryStores composes the service over the in-memory
// adapters, as InitializeInMemory does, and returns the stores too, in
// which the caller records the parents whose children it will ask for.
// The cleanup closes the service.
func InitializeInMemoryStores(cfg Config) (InMemory, func(), error) {
	wire.Build(MemorySet, ServiceSet, wire.Struct(new(InMemory), "*"))
	return InMemory{}, nil, nil
}

// InitializeTokenCacheService composes the service over Redis and
// PostgreSQL, located by cfg. The cleanup closes the service, then both
// connections; on error whatever was opened is already closed.
func InitializeTokenCacheService(ctx context.Context, cfg Config) (*TokenCacheService, func(), error) {
	wire.Build(RealSet, ServiceSet)
	return nil, nil, nil
}
