package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokencache/tokencache/app"
)

// connectTimeout bounds connecting to the real stores at start, and by
// default mint-session as a whole.
const connectTimeout = 30 * time.Second

func (c *cli) mintSession(ctx context.Context, args []string) error {
	var (
		stores   storeFlags
		user     string
		scopes   commaList
		lifetime time.Duration
		timeout  time.Duration
	)
	fs := c.newFlagSet("mint-session", `
Create a parent session token for a user in Redis and PostgreSQL, with its
change-history entry, as Gafaelfawr does at login, and print it (only the
token, on standard output, so that a script can capture it). Meant for
operators and tests. It needs the real stores: an in-memory token would die
with this command.`, storeEnv)
	stores.register(fs)
	fs.StringVar(&user, "user", "", "`username` of the token's owner (required)")
	fs.Var(&scopes, "scope", "a `scope` of the token; repeat the flag or give a comma-separated list")
	fs.DurationVar(&lifetime, "lifetime", time.Hour, "how long the token lives, in whole seconds")
	fs.DurationVar(&timeout, "timeout", connectTimeout, "how long connecting to the stores and minting the token may take in all; past it, the command fails and deletes what it wrote")
	if err := parse(fs, args); err != nil {
		return err
	}
	stores.fillFromEnv(fs, c.getenv)
	real, err := stores.real()
	if err != nil {
		return err
	}
	if !real {
		return usageError("needs --redis-url, --database-url and --session-secret (or their environment variables): " +
			"a token minted in memory would vanish when this command exits")
	}
	if user == "" {
		return usageError("--user is required")
	}
	req := sessionRequest{username: user, scopes: scopes, lifetime: lifetime}
	if err := req.validate(); err != nil {
		return usageError(err.Error())
	}
	if timeout <= 0 {
		return usageError(fmt.Sprintf("--timeout %v must be positive", timeout))
	}

	ctx, stop := interruptible(ctx)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logger := newLogger(c.stderr, slog.LevelInfo)
	comp, cleanup, err := initializeReal(ctx, app.Config{
		RedisURL: stores.redisURL, DatabaseURL: stores.databaseURL, SessionSecret: stores.sessionSecret,
	}, logger)
	if err != nil {
		return err
	}
	defer cleanup()
	token, err := mintSession(ctx, comp.Store, comp.Repository, comp.Clock.Now(), req)
	if err != nil {
		return err
	}
	logger.Info("minted session token", slog.String("token_key", token.Key),
		slog.String("username", user), slog.Any("scopes", req.scopes))
	fmt.Fprintln(c.stdout, token.String())
	return nil
}
