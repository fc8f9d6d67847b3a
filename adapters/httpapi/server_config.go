package httpapi

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults for ServerConfig's zero fields. Reaching the server needs no
// credentials, so they are safe against any client: with them, reading a
// request lasts at most 5s, its answer at most 20s from its headers, and
// the server holds at most 1,025 connections, with about 160 MB for
// unfinished headers at most (see MaxHeaderBytes; measured: 1,024
// connections each holding an unfinished 64 KiB header of one long field,
// 157 MB).
const (
	// DefaultShutdownTimeout is how long Serve waits for in-flight
	// requests.
	DefaultShutdownTimeout = 30 * time.Second

	// DefaultReadHeaderTimeout bounds reading a request's line and
	// headers. nginx sends them at once.
	DefaultReadHeaderTimeout = 5 * time.Second

	// DefaultWriteTimeout bounds a request from the end of its headers to
	// the end of its answer: above DefaultRequestTimeout, so that a slow
	// answer is still sent.
	DefaultWriteTimeout = DefaultRequestTimeout + 10*time.Second

	// DefaultIdleTimeout is how long a keep-alive connection may wait
	// for its next request: longer than nginx's upstream keepalive_timeout
	// (60s), so that nginx normally closes it first.
	DefaultIdleTimeout = 75 * time.Second

	// DefaultMaxHeaderBytes bounds a request's line and headers: four
	// times what nginx passes on by default (large_client_header_buffers
	// 4 8k), ample for Gafaelfawr's state cookie beside a browser's
	// others.
	DefaultMaxHeaderBytes = 64 << 10

	// DefaultMaxConnections bounds the connections open at once; see
	// ServerConfig.MaxConnections for how it relates to the open-file
	// limit.
	DefaultMaxConnections = 1024
)

// ServerConfig configures Listen. A zero duration or size means its
// Default; a negative one is an error.
type ServerConfig struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8080"; port
	// 0 picks a free port, which Server.Addr then tells.
	Addr string

	// ShutdownTimeout bounds the wait for in-flight requests once Serve's
	// context ends.
	ShutdownTimeout time.Duration

	// ReadHeaderTimeout bounds reading a request's line and headers; a
	// client that has not sent them by then has its connection closed.
	// It bounds every read of a request: bodies are never read. A request
	// that declares one is answered as if it had none, and its connection
	// closed after the answer; but net/http itself answers one with an
	// Expect other than 100-continue (417), then waits for its body for at
	// most ReadHeaderTimeout + WriteTimeout.
	ReadHeaderTimeout time.Duration

	// WriteTimeout bounds a request from the end of its headers until its
	// answer is written; an answer not written by then is lost and the
	// connection closed. It must exceed the handler's request timeout.
	WriteTimeout time.Duration

	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request. Idle connections are closed sooner at the connection
	// limit (MaxConnections).
	IdleTimeout time.Duration

	// MaxHeaderBytes bounds a request's line and headers; a request with
	// more is answered 431 Request Header Fields Too Large, without
	// waiting for the rest, and its connection closed. net/http allows 4
	// KiB beyond it, and holds an unfinished header in memory, with the
	// buffers it grew on the way: about 2.5 times its size. It also takes
	// some 200 bytes per field, which it parses into its map as they come;
	// the connection bounds the fields to 1,000 (400 past them, see
	// maxHeaderFields), some 200 KB. So unfinished requests take at most
	// about MaxConnections × (MaxHeaderBytes × 2.5 + 200 KB) of memory.
	MaxHeaderBytes int

	// MaxConnections bounds the connections open at once. Each holds a
	// file descriptor, and the daemon needs others (its store pools, its
	// logs): keep it below the open-file limit (RLIMIT_NOFILE, ulimit -n;
	// Go raises the soft limit to the hard one at start) less the pools'
	// sizes and a few dozen. The default fits the usual hard limits, 4096
	// and above.
	//
	// At the limit a new connection is accepted, and the keep-alive
	// connection idle the longest is closed to make room for it; if none
	// is idle, the new one waits, unread, until a connection closes or
	// turns idle, and those after it wait in the kernel's listen backlog.
	// So at most MaxConnections+1 connections are open. Clients that
	// open connections and send nothing, or send slowly, hold them for up
	// to ReadHeaderTimeout: at the limit, new connections wait meanwhile.
	// The server stays within its limits and catches up when they stop;
	// only letting nothing but the ingress reach it avoids the wait.
	MaxConnections int

	// Logger receives the server's own messages; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with its zero fields set to their defaults, or
// an error naming a field that is negative.
func (cfg ServerConfig) withDefaults() (ServerConfig, error) {
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"ShutdownTimeout", &cfg.ShutdownTimeout, DefaultShutdownTimeout},
		{"ReadHeaderTimeout", &cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"WriteTimeout", &cfg.WriteTimeout, DefaultWriteTimeout},
		{"IdleTimeout", &cfg.IdleTimeout, DefaultIdleTimeout},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return cfg, fmt.Errorf("server config: %s is negative: %v", d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	sizes := []struct {
		name  string
		value *int
		def   int
	}{
		{"MaxHeaderBytes", &cfg.MaxHeaderBytes, DefaultMaxHeaderBytes},
		{"MaxConnections", &cfg.MaxConnections, DefaultMaxConnections},
	}
	for _, s := range sizes {
		if *s.value < 0 {
			return cfg, fmt.Errorf("server config: %s is negative: %d", s.name, *s.value)
		}
		if *s.value == 0 {
			*s.value = s.def
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
