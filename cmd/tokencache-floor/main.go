// Command tokencache-floor is the HTTP floor that scripts/bench measures the
// daemon against: a bare net/http server that answers every request as the
// daemon answers a hit of /auth/delegate (200, the same headers, the same
// body) without reading a credential or a store. Under the same load
// generator, its requests per second are the most any Go HTTP server could
// answer on this machine, so the daemon's figure over this one is what the
// daemon's own work costs.
//
// Usage:
//
//	tokencache-floor [--listen 127.0.0.1:0]
//
// Once it accepts connections it prints "tokencache-floor: listening on
// http://ADDR" on standard output; SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server failed
	exitUsage = 2 // the command line was wrong
)

// shutdownTimeout bounds the wait for requests in flight at a signal.
const shutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tokencache-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`address` to listen on; port 0 picks a free port, printed at start")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tokencache-floor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := serve(ctx, *listen, stdout); err != nil {
		fmt.Fprintf(stderr, "tokencache-floor: %v\n", err)
		return exitError
	}
	return exitOK
}

// serve listens on addr, says where on stdout, and serves floorHandler
// until ctx ends, then finishes the requests in flight.
func serve(ctx context.Context, addr string, stdout io.Writer) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: floorHandler{}, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "tokencache-floor: listening on http://%s\n", ln.Addr())

	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-done // http.ErrServerClosed once Shutdown has begun
	return nil
}
