//go:build wireinject

package main

import (
	"context"
	"log/slog"

	"github.com/google/wire"

	"github.com/tokencache/tokencache/app"
)

// initializeMemory composes the commands' components over the in-memory
// stores. The cleanup closes the service.
func initializeMemory(cfg app.Config, logger *slog.Logger) (*components, func(), error) {
	wire.Build(app.MemoryStoresSet, commonSet)
	return nil, nil, nil
}

// initializeReal composes the commands' components over Redis and
// PostgreSQL, connecting to both; ctx bounds the connecting. The cleanup
// closes the service, then both connections.
func initializeReal(ctx context.Context, cfg app.Config, logger *slog.Logger) (*components, func(), error) {
	wire.Build(app.RealStoresSet, commonSet)
	return nil, nil, nil
}
