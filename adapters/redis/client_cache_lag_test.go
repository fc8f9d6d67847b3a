package redis_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// TestClientCacheStopsServingWhileTheLinkLags: an invalidation link that
// lags (every byte from Redis arrives seconds late) but is never silent,
// since other clients keep writing tokens, is not taken for up to date: a
// token revoked meanwhile stops being served within a second, as for a
// silent link, rather than for as long as the lag.
func TestClientCacheStopsServingWhileTheLinkLags(t *testing.T) {
	u, err := url.Parse(integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := startLagProxy(t, u.Host)
	u.Host = p.addr()
	e := newCachedEnvAt(t, u.String(), redis.ClientCacheConfig{})
	direct := newRawClient(t)
	ctx := context.Background()
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	// Other clients' token writes, one every 100 ms.
	stop, done := make(chan struct{}), make(chan struct{})
	noise := "token:lag-noise-" + data.Token.Key
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_ = direct.Set(ctx, noise, "x", time.Minute).Err()
		}
	}()
	defer func() { close(stop); <-done; _ = direct.Del(ctx, noise).Err() }()
	// The lag grows little by little, to 3 s: the link is never silent.
	for d := time.Duration(0); d <= 3*time.Second; d += 50 * time.Millisecond {
		p.lag.Store(int64(d))
		time.Sleep(100 * time.Millisecond)
	}

	if err := direct.Del(ctx, "token:"+data.Token.Key).Err(); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	var served time.Duration
	for time.Since(revoked) < 5*time.Second {
		got, err := e.store.Get(ctx, data.Token)
		if err != nil {
			break
		}
		if got.Token.Key == data.Token.Key {
			served = time.Since(revoked)
		}
		time.Sleep(time.Millisecond)
	}
	if served > time.Second {
		t.Errorf("the revoked token was served from memory %v after its DEL, over a link 3 s behind", served.Round(time.Millisecond))
	}
}

// lagProxy forwards TCP to a server, delivering what the server sends lag
// late, in order.
type lagProxy struct {
	ln    net.Listener
	lag   atomic.Int64 // nanoseconds
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startLagProxy(t *testing.T, target string) *lagProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lagProxy{ln: ln}
	p.wg.Add(1)
	go p.accept(target)
	t.Cleanup(p.close)
	return p
}

func (p *lagProxy) accept(target string) {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		type chunk struct {
			due time.Time
			b   []byte
		}
		chunks := make(chan chunk, 1<<16)
		p.wg.Add(3)
		go func() { defer p.wg.Done(); _, _ = io.Copy(server, client); _ = server.Close() }()
		go func() {
			defer p.wg.Done()
			defer close(chunks)
			for {
				buf := make([]byte, 32<<10)
				n, err := server.Read(buf)
				if n > 0 {
					chunks <- chunk{time.Now().Add(time.Duration(p.lag.Load())), buf[:n]}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer p.wg.Done()
			defer client.Close()
			for c := range chunks {
				time.Sleep(time.Until(c.due))
				if _, err := client.Write(c.b); err != nil {
					return
				}
			}
		}()
	}
}

func (p *lagProxy) addr() string { return p.ln.Addr().String() }

func (p *lagProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestClientCacheEntryEndsWithItsKeysTTL: a read made in the key's last
// millisecond, when PTTL answers 0, is not kept until the token's own
// expiry: no entry is served past its key's time to live, even before
// Redis's expiry cycle deletes the key and says so.
func TestClientCacheEntryEndsWithItsKeysTTL(t *testing.T) {
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	client, closeClient, err := redis.NewClient(ctx, integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeClient)
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Close)
	// The wall clock, which Redis's time to live runs by.
	store, err := redis.NewTokenStore(client, e.secret, memory.SystemClock{}, slog.New(slog.DiscardHandler), redis.WithClientCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	data := e.fullData(t) // expires in an hour
	key := "token:" + data.Token.Key
	for attempt := range 40 {
		if err := e.plain.Store(ctx, data); err != nil {
			t.Fatal(err)
		}
		end := time.Now().Add(50 * time.Millisecond).Truncate(time.Millisecond)
		if err := e.other.PExpireAt(ctx, key, end).Err(); err != nil {
			t.Fatal(err)
		}
		for time.Since(end) < 30*time.Millisecond {
			hits := cache.Stats().Hits
			late := time.Since(end) // the Get begins later still
			_, err := store.Get(ctx, data.Token)
			if err == nil && cache.Stats().Hits > hits && late > time.Millisecond {
				t.Fatalf("attempt %d: served from memory at least %v after its key's time to live ended", attempt, late)
			}
			if err != nil {
				break
			}
		}
	}
}
