package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// The pool is capped: beyond the cap, callers queue for a connection
// within their deadline instead of opening more than the server can take
// ("sorry, too many clients already").
func TestOpenCapsConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
		want int
	}{
		{"Default", nil, DefaultMaxConnections},
		{"Zero", []Option{MaxConnections(0)}, DefaultMaxConnections},
		{"Three", []Option{MaxConnections(3)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, cleanup, err := Open(context.Background(), integration.DatabaseURL(t), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cleanup)
			if got := db.Stats().MaxOpenConnections; got != tt.want {
				t.Fatalf("MaxOpenConnections = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCallersBeyondTheCapQueue(t *testing.T) {
	t.Parallel()
	const maxConns, callers = 2, 6
	db, cleanup, err := Open(context.Background(), integration.DatabaseURL(t), MaxConnections(maxConns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := db.ExecContext(ctx, "SELECT pg_sleep(0.1)")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a queued caller failed: %v", err)
		}
	}
	s := db.Stats()
	if s.OpenConnections > maxConns || s.WaitCount == 0 {
		t.Fatalf("stats %+v: want at most %d connections and callers that waited", s, maxConns)
	}
}
