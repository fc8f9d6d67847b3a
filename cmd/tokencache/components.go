package main

import (
	"context"
	"log/slog"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
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
	app.ProvideMemoryCaches, // the child caches live in the process in both modes
	wire.InterfaceValue(new(ports.Clock), memory.SystemClock{}),
	httpapi.NewMetrics,
	wire.Bind(new(ports.Observer), new(*httpapi.Metrics)),
	provideHealthChecks,
	wire.Struct(new(components), "*"),
)

// memorySet provides the stores from adapters/memory: the embedded default.
var memorySet = wire.NewSet(
	memory.NewTokenStore,
	wire.Bind(new(ports.TokenStore), new(*memory.TokenStore)),
	memory.NewRepository,
	wire.Bind(new(ports.TokenRepository), new(*memory.Repository)),
)

// realSet provides the stores on Redis and PostgreSQL, shared with
// Gafaelfawr.
var realSet = wire.NewSet(
	provideRedisClient,
	provideRedisStore,
	wire.Bind(new(ports.TokenStore), new(*redis.TokenStore)),
	provideDatabase,
	postgres.NewTokenRepository,
	wire.Bind(new(ports.TokenRepository), new(*postgres.TokenRepository)),
)

// provideHealthChecks checks both stores through their ports, so that a
// check takes the same path as a request.
func provideHealthChecks(store ports.TokenStore, repo ports.TokenRepository) httpapi.HealthChecks {
	return httpapi.HealthChecks{httpapi.TokenStoreCheck(store), httpapi.RepositoryCheck(repo)}
}

// provideRedisClient connects to cfg.RedisURL; ctx bounds only the
// connection check.
func provideRedisClient(ctx context.Context, cfg app.Config) (goredis.UniversalClient, func(), error) {
	return redis.NewClient(ctx, cfg.RedisURL)
}

// provideRedisStore is the token store in Redis, sealed with
// cfg.SessionSecret.
func provideRedisStore(client goredis.UniversalClient, cfg app.Config, clock ports.Clock, logger *slog.Logger) (*redis.TokenStore, error) {
	return redis.NewTokenStore(client, cfg.SessionSecret, clock, logger)
}

// provideDatabase connects to cfg.DatabaseURL; ctx bounds only the
// connection check.
func provideDatabase(ctx context.Context, cfg app.Config) (*sqlx.DB, func(), error) {
	return postgres.Open(ctx, cfg.DatabaseURL)
}
