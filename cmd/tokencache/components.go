package main

import (
	"log/slog"

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
	provideService,
	app.ProcessSet,
	httpapi.NewMetrics,
	wire.Bind(new(ports.Observer), new(*httpapi.Metrics)),
	provideHealthChecks,
	wire.Struct(new(components), "*"),
)

// provideService is app.ProvideTokenCacheService, its cleanup closing the
// service, with its pending clean-ups served as a metric.
func provideService(
	cfg app.Config,
	store ports.TokenStore,
	repo ports.TokenRepository,
	caches app.Caches,
	clock ports.Clock,
	metrics *httpapi.Metrics,
	logger *slog.Logger,
) (*app.TokenCacheService, func(), error) {
	svc, cleanup, err := app.ProvideTokenCacheService(cfg, store, repo, caches, clock, metrics, logger)
	if err != nil {
		return nil, nil, err
	}
	metrics.WatchCleanups(svc.PendingCleanups)
	return svc, cleanup, nil
}

// provideHealthChecks checks both stores through their ports, so that a
// check takes the same path as a request.
func provideHealthChecks(store ports.TokenStore, repo ports.TokenRepository) httpapi.HealthChecks {
	return httpapi.HealthChecks{httpapi.TokenStoreCheck(store), httpapi.RepositoryCheck(repo)}
}
