package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/tokencache/tokencache/internal/fernetbox"
)

// Environment variables that stand in for the store flags.
const (
	envRedisURL      = "TOKENCACHE_REDIS_URL"
	envDatabaseURL   = "TOKENCACHE_DATABASE_URL"
	envSessionSecret = "TOKENCACHE_SESSION_SECRET"
)

// storeFlags locate the real stores. They are all given or none: the token
// store and the repository must be the same kind, and Redis is useless
// without the key that encrypts its entries.
type storeFlags struct {
	redisURL, databaseURL, sessionSecret string
}

// storeEnv documents the environment variables for -h.
var storeEnv = [][2]string{
	{envRedisURL, "as --redis-url"},
	{envDatabaseURL, "as --database-url"},
	{envSessionSecret, "as --session-secret (prefer this to the flag: command lines are visible to other users)"},
}

// register adds the flags to fs. Their defaults are empty, never read from
// the environment, so that -h cannot print the session secret.
func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.redisURL, "redis-url", "", "Redis `URL` of the token store, such as redis://127.0.0.1:6379/0")
	fs.StringVar(&s.databaseURL, "database-url", "",
		"PostgreSQL `URL` of the token repository, such as postgres://user@127.0.0.1:5432/gafaelfawr?sslmode=disable")
	fs.StringVar(&s.sessionSecret, "session-secret", "",
		"Gafaelfawr's session secret: the Fernet `key` (URL-safe base64 of 32 bytes) that encrypts tokens in Redis")
}

// fillFromEnv sets each flag not given on fs's command line, even as an
// empty value, from its environment variable.
func (s *storeFlags) fillFromEnv(fs *flag.FlagSet, getenv func(string) string) {
	given := givenFlags(fs)
	for _, f := range []struct {
		value     *string
		flag, env string
	}{
		{&s.redisURL, "redis-url", envRedisURL},
		{&s.databaseURL, "database-url", envDatabaseURL},
		{&s.sessionSecret, "session-secret", envSessionSecret},
	} {
		if !given[f.flag] {
			*f.value = getenv(f.env)
		}
	}
}

// real reports whether the real stores were given: false if none was,
// true if all were, and an error naming the missing ones otherwise.
func (s storeFlags) real() (bool, error) {
	var given, missing []string
	for _, f := range []struct{ value, name string }{
		{s.redisURL, "--redis-url (" + envRedisURL + ")"},
		{s.databaseURL, "--database-url (" + envDatabaseURL + ")"},
		{s.sessionSecret, "--session-secret (" + envSessionSecret + ")"},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		} else {
			given = append(given, f.name)
		}
	}
	switch {
	case len(given) == 0:
		return false, nil
	case len(missing) == 0:
		// Checked before any store is dialled: a key in another form is a
		// wrong command line.
		if _, err := fernetbox.New(s.sessionSecret); err != nil {
			return false, usageError(err.Error())
		}
		return true, nil
	}
	return false, usageError(fmt.Sprintf(
		"the real stores need all three of --redis-url, --database-url and --session-secret; missing %s",
		strings.Join(missing, ", ")))
}
