package app

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/ports"
)

// RealStoresSet provides the token store on Redis and the repository on
// PostgreSQL, as located by Config. It needs a context (bounding the
// connection checks), a ports.Clock and a logger.
var RealStoresSet = wire.NewSet(
	ProvideRedisClient,
	ProvideRedisClientCache,
	ProvideRedisTokenStore,
	wire.Bind(new(ports.TokenStore), new(*redis.TokenStore)),
	ProvideDatabase,
	postgres.NewTokenRepository,
	wire.Bind(new(ports.TokenRepository), new(*postgres.TokenRepository)),
)

// RealSet provides the ports from Redis and PostgreSQL, with the
// in-process caches, an in-memory observer and the real time.
var RealSet = wire.NewSet(
	RealStoresSet,
	ProcessSet,
	memory.NewObserver,
	wire.Bind(new(ports.Observer), new(*memory.Observer)),
)

// ProvideRedisClient connects to cfg.RedisURL; the cleanup closes the
// client. go-redis's own log lines go to logger (see
// redis.RouteDriverLog).
func ProvideRedisClient(ctx context.Context, cfg Config, logger *slog.Logger) (goredis.UniversalClient, func(), error) {
	if cfg.RedisURL == "" {
		return nil, nil, errors.New("no Redis URL configured")
	}
	redis.RouteDriverLog(logger)
	return redis.NewClient(ctx, cfg.RedisURL)
}

// ProvideRedisClientCache is the client cache of token reads on client
// when cfg.ClientCache is set, and nil otherwise; the cleanup closes it.
// It waits, within ctx, until Redis has confirmed its invalidation link.
func ProvideRedisClientCache(ctx context.Context, client goredis.UniversalClient, cfg Config, logger *slog.Logger) (*redis.ClientCache, func(), error) {
	if !cfg.ClientCache {
		return nil, func() {}, nil
	}
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, logger)
	if err != nil {
		return nil, nil, err
	}
	return cache, cache.Close, nil
}

// ProvideRedisTokenStore is the token store in Redis, encrypted with
// cfg.SessionSecret, reading through cache unless it is nil, and waiting
// for cfg.RedisReplicaAcks replicas on each write.
func ProvideRedisTokenStore(client goredis.UniversalClient, cache *redis.ClientCache, cfg Config, clock ports.Clock, logger *slog.Logger) (*redis.TokenStore, error) {
	var opts []redis.StoreOption
	if cache != nil {
		opts = append(opts, redis.WithClientCache(cache))
	}
	if cfg.RedisReplicaAcks != 0 {
		opts = append(opts, redis.WithReplicaAcks(cfg.RedisReplicaAcks, RedisReplicaAckTimeout))
	}
	store, err := redis.NewTokenStore(client, cfg.SessionSecret, clock, logger, opts...)
	if err != nil {
		return nil, err
	}
	warnOfUnacknowledgedReplicas(store, cfg, logger)
	return store, nil
}

// warnOfUnacknowledgedReplicas logs a warning if the master has more
// replicas than cfg.RedisReplicaAcks: a failover may promote one that never
// held a child already handed out. It asks once, briefly; a master that
// does not answer (or a user not allowed INFO) is not warned of.
func warnOfUnacknowledgedReplicas(store *redis.TokenStore, cfg Config, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := store.UnacknowledgedReplicas(ctx)
	if err != nil || n == 0 {
		return
	}
	logger.Warn("the redis master has replicas that each write does not wait for: a failover to one of them loses children already handed out; set the replica acknowledgements to the number of replicas",
		slog.Int("replica_acks", cfg.RedisReplicaAcks), slog.Int("unacknowledged_replicas", n))
}

// ProvideDatabase connects to cfg.DatabaseURL with a pool of at most
// cfg.DatabaseMaxConnections; the cleanup closes the pool. It does not
// migrate (see postgres.Migrate), but fails if the tables are missing.
func ProvideDatabase(ctx context.Context, cfg Config) (*sqlx.DB, func(), error) {
	if cfg.DatabaseURL == "" {
		return nil, nil, errors.New("no database URL configured")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	// A transaction here pauses between statements for no longer than
	// the creation timeout bounds the work (the token store's write): a
	// session idle in one for twice that has lost its client.
	db, cleanup, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.MaxConnections(cfg.DatabaseMaxConnections),
		postgres.IdleInTransactionTimeout(cfg.idleInTransactionTimeout()))
	if err != nil {
		return nil, nil, err
	}
	if err := postgres.CheckSchema(ctx, db); err != nil {
		cleanup()
		return nil, nil, err
	}
	return db, cleanup, nil
}

// idleInTransactionTimeout is twice the creation timeout (see
// ProvideDatabase), saturated rather than overflowing into a negative
// duration, which postgres.Open would read as its 1-minute default.
func (c Config) idleInTransactionTimeout() time.Duration {
	return 2 * min(c.CreationTimeout, math.MaxInt64/2)
}
