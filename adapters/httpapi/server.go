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

// DefaultShutdownTimeout is how long Serve waits for in-flight requests
// when ServerConfig leaves it at zero.
const DefaultShutdownTimeout = 30 * time.Second

// ServerConfig configures Listen.
type ServerConfig struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8080"; port
	// 0 picks a free port, which Server.Addr then tells.
	Addr string

	// ShutdownTimeout bounds the wait for in-flight requests once Serve's
	// context ends; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// Logger receives the server's own messages; nil discards them.
	Logger *slog.Logger
}

// Server serves a handler on a listener it has already bound, so that an
// address in use is reported before anything else starts, and shuts down
// gracefully.
type Server struct {
	http     *http.Server
	listener net.Listener
	timeout  time.Duration
	logger   *slog.Logger
}

// Listen binds cfg.Addr and returns a server of handler that is not yet
// serving.
func Listen(ctx context.Context, cfg ServerConfig, handler http.Handler) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	return &Server{
		http: &http.Server{
			Handler: handler,
			// Bounds a client that opens a connection and sends nothing;
			// handlers bound themselves with the request timeout.
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		listener: ln,
		timeout:  cfg.ShutdownTimeout,
		logger:   cfg.Logger,
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve serves until ctx ends, then stops accepting connections and waits
// up to the shutdown timeout for in-flight requests to finish. It returns
// nil after a clean shutdown, or the error that stopped it.
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
		_ = s.http.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	s.logger.InfoContext(ctx, "shut down")
	return nil
}
