package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/app"
)

// The handler serves what the client cache holds without a worker only if
// the service can tell a child held in memory.
var _ httpapi.LocalIssuer = (*app.TokenCacheService)(nil)

func (c *cli) serve(ctx context.Context, args []string) error {
	var (
		stores          storeFlags
		access          accessFlags
		limits          limitFlags
		listen          string
		tokenLifetime   time.Duration
		cacheSize       int
		requestTimeout  time.Duration
		shutdownTimeout time.Duration
		logLevel        = slog.LevelInfo
		clientCache     boolFlag
		replicaAcks     countFlag
	)
	fs := c.newFlagSet("serve", `
Run the HTTP daemon: GET /auth/delegate hands out delegated child tokens to an
ingress such as nginx's auth_request; GET /healthz checks the stores; GET
/metrics serves Prometheus metrics. Logs are JSON on standard error.

With none of the store flags, tokens live in memory (nothing survives a
restart) and a demo parent token is printed with a curl command to try. With
all three, tokens live in Redis and PostgreSQL, shared with Gafaelfawr (run
"tokencache migrate" first).

SIGINT or SIGTERM stops accepting connections and finishes the requests in
flight, for at most --shutdown-timeout; a second signal stops at once.

/auth/delegate hands out credentials for any service named in delegate_to:
only the ingress may reach it. --allow-service bounds the services.`, slices.Concat(storeEnv, accessEnv, cacheEnv, replicaAcksEnv))
	stores.register(fs)
	access.register(fs)
	limits.register(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free port, printed at start")
	fs.DurationVar(&tokenLifetime, "token-lifetime", app.DefaultTokenLifetime,
		"longest lifetime of a child token (whole seconds, at least 10m)")
	fs.IntVar(&cacheSize, "cache-size", app.DefaultCacheSize, "entries in each of the two in-process child caches")
	fs.DurationVar(&requestTimeout, "request-timeout", httpapi.DefaultRequestTimeout,
		"longest time to answer a request before giving up with 503")
	fs.DurationVar(&shutdownTimeout, "shutdown-timeout", httpapi.DefaultShutdownTimeout,
		"longest wait for in-flight requests after SIGINT or SIGTERM")
	fs.TextVar(&logLevel, "log-level", logLevel, "least `level` logged: debug, info, warn or error")
	fs.Var(&clientCache, "client-cache",
		"serve token reads from process memory, invalidated by Redis (CLIENT TRACKING, Redis 6 or later); off by default")
	fs.Var(&replicaAcks, "redis-replica-acks",
		"`replicas` of the Redis master that must hold a new child before it is handed out (WAIT); creations fail with 503 while fewer do. Set it to the number of replicas: a failover to one that did not acknowledge loses the child. Not on a cluster")
	if err := parse(fs, args); err != nil {
		return err
	}
	if requestTimeout <= 0 || shutdownTimeout <= 0 {
		return usageError("--request-timeout and --shutdown-timeout must be positive")
	}
	// app.Config reads 0 as "the default": refused here rather than
	// silently replaced.
	if tokenLifetime <= 0 || cacheSize <= 0 {
		return usageError("--token-lifetime and --cache-size must be positive")
	}
	if err := (app.Config{TokenLifetime: tokenLifetime}).Check(); err != nil {
		return usageError("--token-lifetime: " + err.Error())
	}
	if err := limits.check(fs, requestTimeout); err != nil {
		return err
	}
	stores.fillFromEnv(fs, c.getenv)
	real, err := stores.real()
	if err != nil {
		return err
	}
	if err := access.fillFromEnv(fs, c.getenv); err != nil {
		return err
	}
	if err := clientCache.fillFromEnv(c.getenv, envClientCache); err != nil {
		return err
	}
	if err := replicaAcks.fillFromEnv(c.getenv, envRedisReplicaAcks); err != nil {
		return err
	}
	if !real && (clientCache.value || replicaAcks.value != 0) {
		return usageError("--client-cache (" + envClientCache + ") and --redis-replica-acks (" + envRedisReplicaAcks +
			") act on Redis: they need the real stores, and would do nothing in memory")
	}
	var cookies httpapi.SessionCookies
	if real {
		// Gafaelfawr's session cookie is sealed with the same secret as
		// its tokens in Redis.
		if cookies, err = statecookie.New(stores.sessionSecret); err != nil {
			return err
		}
	}

	ctx, stop := interruptible(ctx)
	defer stop()
	logOut := newLogWriter(c.stderr)
	defer func() { _ = logOut.Close() }() // after every other deferred call, which may log
	logger := newLogger(logOut, logLevel)
	cfg := app.Config{
		RedisURL: stores.redisURL, DatabaseURL: stores.databaseURL, SessionSecret: stores.sessionSecret,
		TokenLifetime: tokenLifetime, CacheSize: cacheSize, ClientCache: clientCache.value,
		RedisReplicaAcks: replicaAcks.value,
	}
	cfg = limits.service(cfg)
	if err := cfg.Check(); err != nil {
		return usageError(err.Error())
	}
	comp, cleanup, err := compose(ctx, real, cfg, logger)
	if err != nil {
		return err
	}
	defer cleanup()

	handler := httpapi.NewHandler(httpapi.Config{
		Issuer: comp.Service, Parents: comp.Store, Health: comp.Health, Metrics: comp.Metrics,
		Logger: logger, RequestTimeout: requestTimeout,
		Cookies: cookies, TrustedProxies: access.trustedProxies, AllowedServices: access.allowedServices,
		TokenLifetime: tokenLifetime, Clock: comp.Clock,
	})
	srv, err := httpapi.Listen(ctx, limits.server(httpapi.ServerConfig{
		Addr: listen, ShutdownTimeout: shutdownTimeout, Logger: logger,
	}), handler)
	if err != nil {
		return err
	}
	base := baseURL(srv.Addr())
	logger.Info("listening", slog.String("addr", srv.Addr().String()), slog.Bool("in_memory", !real))
	if real {
		fmt.Fprintf(c.stdout, "tokencache serve: listening on %s with the Redis and PostgreSQL stores\n", base)
	} else if err := c.printDemo(ctx, comp, base); err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// compose builds the components over the real stores if asked, else in
// memory.
func compose(ctx context.Context, real bool, cfg app.Config, logger *slog.Logger) (*components, func(), error) {
	if !real {
		return initializeMemory(cfg, logger)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return initializeReal(ctx, cfg, logger)
}
