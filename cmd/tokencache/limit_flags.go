package main

import (
	"flag"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/app"
)

// limitFlags bound what clients and stores can cost the daemon: the HTTP
// server's timeouts and sizes, the PostgreSQL pool, and the children one
// parent may create.
type limitFlags struct {
	readHeaderTimeout    time.Duration
	writeTimeout         time.Duration // unless given: --request-timeout plus writeMargin
	idleTimeout          time.Duration
	maxHeaderBytes       int
	maxConnections       int
	databaseConnections  int
	maxChildrenPerParent int
	childrenWindow       time.Duration
	creationTimeout      time.Duration
}

// writeMargin is how much longer than the request timeout the server
// waits for an answer to be written, by default.
const writeMargin = httpapi.DefaultWriteTimeout - httpapi.DefaultRequestTimeout

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.readHeaderTimeout, "read-header-timeout", httpapi.DefaultReadHeaderTimeout,
		"longest time to receive a request's line and headers before closing the connection (bodies are never read)")
	fs.DurationVar(&l.writeTimeout, "write-timeout", 0,
		"longest time from a request's headers to the end of its answer; must exceed --request-timeout (default --request-timeout plus 10s)")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", httpapi.DefaultIdleTimeout,
		"longest time a keep-alive connection waits for its next request")
	fs.IntVar(&l.maxHeaderBytes, "max-header-bytes", httpapi.DefaultMaxHeaderBytes,
		"largest request line and headers, in bytes; larger requests get 431")
	fs.IntVar(&l.maxConnections, "max-connections", httpapi.DefaultMaxConnections,
		"most connections open at once; keep it below the open-file limit (ulimit -n) less the store pools; "+
			"at the limit the longest-idle keep-alive connection is closed, else new connections wait")
	fs.IntVar(&l.databaseConnections, "database-max-connections", app.DefaultDatabaseMaxConnections,
		"most PostgreSQL connections open at once; requests wait for one within their timeout")
	fs.IntVar(&l.maxChildrenPerParent, "max-children-per-parent", app.DefaultMaxChildrenPerParent,
		"most new children one parent may create within --children-window (negative: no bound; not 0)")
	fs.DurationVar(&l.childrenWindow, "children-window", app.DefaultChildrenWindow,
		"the window of --max-children-per-parent")
	fs.DurationVar(&l.creationTimeout, "creation-timeout", app.DefaultCreationTimeout,
		"longest time the lookup and creation of a child may take, finishing for the next request even after its caller has gone")
}

// check refuses values that cannot work, given the request timeout, and
// sets the write timeout's default where fs, parsed, was not given one.
func (l *limitFlags) check(fs *flag.FlagSet, requestTimeout time.Duration) error {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "write-timeout" })
	if !given {
		l.writeTimeout = requestTimeout + writeMargin
	}
	switch {
	case l.writeTimeout <= 0:
		// Given as 0, it would silently be the default.
		return usageError("--write-timeout must be positive")
	case l.readHeaderTimeout <= 0 || l.idleTimeout <= 0 || l.childrenWindow <= 0 || l.creationTimeout <= 0:
		return usageError("--read-header-timeout, --idle-timeout, --children-window and --creation-timeout must be positive")
	case l.maxHeaderBytes <= 0 || l.maxConnections <= 0 || l.databaseConnections <= 0:
		return usageError("--max-header-bytes, --max-connections and --database-max-connections must be positive")
	case l.maxChildrenPerParent == 0:
		// app.Config would read 0 as the default, 100.
		return usageError("--max-children-per-parent must not be 0: positive bounds the children, negative means no bound")
	case l.writeTimeout <= requestTimeout:
		return usageError("--write-timeout must be longer than --request-timeout")
	}
	return nil
}

// server applies the HTTP limits to cfg.
func (l *limitFlags) server(cfg httpapi.ServerConfig) httpapi.ServerConfig {
	cfg.ReadHeaderTimeout = l.readHeaderTimeout
	cfg.WriteTimeout = l.writeTimeout
	cfg.IdleTimeout = l.idleTimeout
	cfg.MaxHeaderBytes = l.maxHeaderBytes
	cfg.MaxConnections = l.maxConnections
	return cfg
}

// service applies the store and creation limits to cfg.
func (l *limitFlags) service(cfg app.Config) app.Config {
	cfg.DatabaseMaxConnections = l.databaseConnections
	cfg.MaxChildrenPerParent = l.maxChildrenPerParent
	cfg.ChildrenWindow = l.childrenWindow
	cfg.CreationTimeout = l.creationTimeout
	return cfg
}
