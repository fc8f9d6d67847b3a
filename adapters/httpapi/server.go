package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server serves a handler on a listener it has already bound, so that an
// address in use is reported before the server starts serving (the daemon
// connects to its stores first), and shuts down gracefully.
type Server struct {
	http     *http.Server
	listener *limitListener
	timeout  time.Duration
	logger   *slog.Logger
}

// Listen binds cfg.Addr and returns a server of handler that is not yet
// serving. The server applies cfg's limits on time, header size and
// connections, and never reads a request body (see ServerConfig).
func Listen(ctx context.Context, cfg ServerConfig, handler http.Handler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	limited := newLimitListener(ln, cfg.MaxConnections, cfg.Logger)
	srv := &Server{
		http: &http.Server{
			Handler:           withoutBodies(handler),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			// The handler reads no body, but net/http drains one itself
			// after its 417 to an Expect other than 100-continue, with no
			// deadline but this one. It ends no request the write timeout
			// would not: that one runs from the end of the headers.
			ReadTimeout:    cfg.ReadHeaderTimeout + cfg.WriteTimeout,
			WriteTimeout:   cfg.WriteTimeout,
			IdleTimeout:    cfg.IdleTimeout,
			MaxHeaderBytes: cfg.MaxHeaderBytes,
			ConnState:      limited.connState,
			// net/http answers "OPTIONS *" itself, bypassing Handler and so
			// withoutBodies: it reads the request's body with no deadline.
			DisableGeneralOptionsHandler: true,
			ErrorLog:                     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		listener: limited,
		timeout:  cfg.ShutdownTimeout,
		logger:   cfg.Logger,
	}
	srv.http.RegisterOnShutdown(limited.drain)
	return srv, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve serves until ctx ends, then stops accepting connections and waits
// up to the shutdown timeout for in-flight requests to finish. It returns
// nil after a clean shutdown, one with no request still in flight at the
// end of the timeout, or the error that stopped it.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.listener) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	s.logger.InfoContext(ctx, "shutting down, finishing in-flight requests",
		slog.Duration("timeout", s.timeout))
	// The wait must outlive ctx, which has just ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		// Shutdown looks for busy connections at intervals that grow to
		// 500 ms, so it reports the timeout if a request was in flight at
		// its last look, though the request may have finished since: only
		// one still in flight now fails the shutdown. Close closes the
		// connections left, if any, either way.
		n := s.listener.inFlight()
		_ = s.http.Close()
		switch {
		case !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("shutting down: %w", err)
		case n > 0:
			return fmt.Errorf("shutting down: requests still in flight (%d): %w", n, err)
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	s.logger.InfoContext(ctx, "shut down")
	return nil
}
