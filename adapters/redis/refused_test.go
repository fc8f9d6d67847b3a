package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// proxiedStore is a token store on the integration Redis reached through a
// fault proxy.
func proxiedStore(t *testing.T) (*redis.TokenStore, *faultproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	client, cleanup, err := redis.NewClient(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	store, err := redis.NewTokenStore(client, newSessionSecret(t), memory.SystemClock{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return store, p
}

// A server that went down fails a command after the client's few retries,
// with the refusal, not at the command's deadline; once it is back, the
// next command succeeds on a new connection.
func TestRefusedServerFailsFast(t *testing.T) {
	t.Parallel()
	store, p := proxiedStore(t)
	p.Refuse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := store.GetByKey(ctx, "5KVApqcVbSQWtO3VIRgOhQ")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("GetByKey on a refusing server took %v", elapsed)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("GetByKey on a refusing server = %v, want connection refused", err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetByKey(ctx, "5KVApqcVbSQWtO3VIRgOhQ"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetByKey once the server is back = %v, want ports.ErrNotFound", err)
	}
}

// A connection that stalled is not reused: once traffic passes again, the
// next command succeeds at once.
func TestStalledConnectionIsNotReused(t *testing.T) {
	t.Parallel()
	store, p := proxiedStore(t)
	p.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := store.GetByKey(ctx, "5KVApqcVbSQWtO3VIRgOhQ"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetByKey on a stalled server = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("GetByKey on a stalled server took %v, its deadline 300ms", elapsed)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	next, cancelNext := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelNext()
	if _, err := store.GetByKey(next, "5KVApqcVbSQWtO3VIRgOhQ"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetByKey once traffic passes = %v, want ports.ErrNotFound", err)
	}
}
