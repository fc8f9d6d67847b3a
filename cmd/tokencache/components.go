package main

import (
	"github.com/google/wire"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/ports"
)

// components are what the commands need, composed by Wire over either the
// in-memory or the real stores: the service, the stores themselves (to
// look up parents and to mint sessions), the health checks of those stores
// and the metrics that the service reports to.
type components struct {
	Service    *app.TokenCacheService
	Store      ports.TokenStore
	Repository ports.TokenRepository
	Clock      ports.Clock
	Health     httpapi.HealthChecks
	Metrics    *httpapi.Metrics
}

// commonSet is the part shared by both compositions. The service is built
// here rather than from app.ServiceSet so that it logs to the command's
// logger and reports to Prometheus rather than to a memory.Observer.
var commonSet = wire.NewSet(
	app.NewTokenCacheService,
	app.ProcessSet,
	httpapi.NewMetrics,
	wire.Bind(new(ports.Observer), new(*httpapi.Metrics)),
	provideHealthChecks,
	wire.Struct(new(components), "*"),
)

// provideHealthChecks checks both stores through their ports, so that a
// check takes the same path as a request.
func provideHealthChecks(store ports.TokenStore, repo ports.TokenRepository) httpapi.HealthChecks {
	return httpapi.HealthChecks{httpapi.TokenStoreCheck(store), httpapi.RepositoryCheck(repo)}
}
