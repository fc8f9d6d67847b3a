package redis_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// A Redis restart breaks the link: what was cached is dropped, reads fail
// while Redis is down rather than serve the cache, and after the restart
// (which lost every key) the cache neither serves the lost token nor misses
// the changes made once the link is back.
func TestClientCacheRedisRestart(t *testing.T) {
	t.Parallel()
	srv := integration.StartRedisServer(t, false)
	e := newCachedEnvAt(t, srv.URL(), redis.ClientCacheConfig{})
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	flushes := e.cache.Stats().Flushes
	srv.Kill(t)
	if err := e.cache.AwaitFlushes(within(t, 5*time.Second), flushes); err != nil {
		t.Fatalf("the broken link was not seen: %v", err)
	}
	if _, err := e.mustMiss(t, data.Token); err == nil || errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get with Redis down returned %v, want a store failure", err)
	}

	srv.Restart(t)
	if err := e.cache.AwaitLinked(within(t, 10*time.Second)); err != nil {
		t.Fatalf("the link did not come back: %v", err)
	}
	_, err := e.mustMiss(t, data.Token)
	wantNotFound(t, err)
	if err := e.plain.Store(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	e.mustHit(t, data)
	if err := e.other.Del(context.Background(), "token:"+data.Token.Key).Err(); err != nil {
		t.Fatal(err)
	}
	awaitNotFound(t, e, data.Token)
}

// A link that stops answering, with no reset (a lost network path), is
// taken as broken once a ping goes unanswered: the cache is dropped and
// reads go to Redis. Once the path is back, so is the link.
func TestClientCacheSilentLink(t *testing.T) {
	t.Parallel()
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
	e := newCachedEnvAt(t, u.String(), redis.ClientCacheConfig{})
	data := e.fullData(t)
	e.put(t, data)
	e.mustHit(t, data)

	flushes := e.cache.Stats().Flushes
	p.Stall()
	start := time.Now()
	if err := e.cache.AwaitFlushes(within(t, 10*time.Second), flushes); err != nil {
		t.Fatalf("the silent link was not seen: %v", err)
	}
	t.Logf("silent link seen after %v", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got, err := e.store.Get(ctx, data.Token); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with the path to Redis stalled returned %+v, %v; want its deadline", got, err)
	}

	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.AwaitLinked(within(t, 10*time.Second)); err != nil {
		t.Fatalf("the link did not come back: %v", err)
	}
	got, err := e.store.Get(context.Background(), data.Token)
	if err != nil || !reflect.DeepEqual(got, data) {
		t.Fatalf("Get after the path came back returned %+v, %v", got, err)
	}
}

// A link that breaks (here killed by the server) while opening it again
// hangs (here the new connection's handshake stalls) is dropped at once,
// not once the new connection gives up: go-redis dials again before it
// reports the broken one. Close then ends the stalled handshake.
func TestClientCacheLinkBrokenWhileRedialing(t *testing.T) {
	t.Parallel()
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
	e := newCachedEnvAt(t, u.String(), redis.ClientCacheConfig{})
	direct := newRawClient(t) // not through the proxy
	ctx := context.Background()
	data := e.fullData(t)
	t.Cleanup(func() { _ = p.Heal() }) // before the token's clean-up, which goes through p
	e.put(t, data)
	e.mustHit(t, data)

	flushes := e.cache.Stats().Flushes
	p.Inject(faultproxy.Stall, faultproxy.RedisCommand("HELLO"))
	if err := direct.Do(ctx, "CLIENT", "KILL", "ID", e.cache.LinkID()).Err(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	if err := direct.Del(ctx, "token:"+data.Token.Key).Err(); err != nil {
		t.Fatal(err)
	}
	// Within seconds, not the client's 5 s timeout: a generous bound for
	// a loaded machine, which still tells the two apart.
	if err := e.cache.AwaitFlushes(within(t, 3*time.Second), flushes); err != nil {
		t.Fatalf("the broken link was not seen within 3 s: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if got, err := e.store.Get(short, data.Token); err == nil {
		t.Fatalf("Get served %+v, revoked while the link was down", got.Token.Key)
	}

	// Close does not wait for the stalled handshake to time out.
	start := time.Now()
	e.cache.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v with the link's handshake stalled (its timeout is 5 s)", d)
	}
}

// An invalidation whose TCP segments arrive apart (a lost segment is resent
// 200 ms or more later) is applied whole once it has all arrived: the link
// does not read with a deadline that could cut the message and drop what it
// had read. Cut before a key, the rest used to read as a reply of its own,
// a bare string taken for a ping's answer, and the keys in it were lost,
// their tokens served from memory until they expired.
func TestClientCacheInvalidationInTwoSegmentsIsApplied(t *testing.T) {
	t.Parallel()
	// cuts split an invalidation (from its channel name on) before its
	// first key, or between its first and second keys.
	cuts := map[string]func(msg []byte) int{
		"BeforeTheFirstKey": func(msg []byte) int { return nthKey(msg, 1) },
		"BetweenKeys":       func(msg []byte) int { return nthKey(msg, 2) },
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := integration.StartRedisServer(t, false)
			proxy := newSplittingProxy(t, srv.URL(), cut, 400*time.Millisecond)
			e := newCachedEnvAt(t, proxy.url, redis.ClientCacheConfig{})
			ctx := context.Background()
			first, second := e.fullData(t), e.fullData(t)
			for _, data := range []domain.TokenData{first, second} {
				e.put(t, data)
			}
			e.awaitCaughtUp(t)
			e.mustHit(t, first)
			e.mustHit(t, second)

			proxy.armed.Store(true)
			// Revoked by another client, both in one command: one message.
			if err := e.other.Del(ctx, "token:"+first.Token.Key, "token:"+second.Token.Key).Err(); err != nil {
				t.Fatal(err)
			}
			e.awaitCaughtUp(t)
			if !proxy.split.Load() {
				t.Fatal("the proxy split no invalidation")
			}
			for _, data := range []domain.TokenData{first, second} {
				if _, err := e.store.Get(ctx, data.Token); !errors.Is(err, ports.ErrNotFound) {
					t.Errorf("deleted by another client, %s still reads with err = %v (stats %+v)", data.Token.Key, err, e.cache.Stats())
				}
			}
		})
	}
}

// nthKey returns where the nth key (from 1) of the invalidation msg begins,
// its "$" line, or -1.
func nthKey(msg []byte, n int) int {
	at := 0
	for range n {
		i := bytes.Index(msg[at:], []byte("\r\n$"))
		if i < 0 {
			return -1
		}
		at += i + 2
	}
	return at
}

// splittingProxy forwards between its clients and a Redis server; once
// armed, it cuts the next invalidation message it passes to a client where
// cut says, and holds the rest back for delay.
type splittingProxy struct {
	url          string
	armed, split atomic.Bool
}

func newSplittingProxy(t *testing.T, target string, cut func([]byte) int, delay time.Duration) *splittingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	p := &splittingProxy{}
	forward := func(client, server net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			b := buf[:n]
			if i := bytes.Index(b, []byte("__redis__:invalidate\r\n")); i >= 0 && p.armed.Load() {
				if j := cut(b[i:]); j >= 0 && p.armed.CompareAndSwap(true, false) {
					if _, err := client.Write(b[:i+j]); err != nil {
						return
					}
					time.Sleep(delay)
					b = b[i+j:]
					p.split.Store(true)
				}
			}
			if _, werr := client.Write(b); werr != nil || err != nil {
				return
			}
		}
	}
	host := u.Host
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", host)
			if err != nil {
				_ = client.Close()
				continue
			}
			t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
			go func() { _, _ = io.Copy(server, client) }()
			go forward(client, server)
		}
	}()
	u.Host = ln.Addr().String()
	p.url = u.String()
	return p
}

// Close waits for the link's goroutines, the watch that pings it among them,
// wherever Close finds them. Not parallel: it looks for the watch among all
// goroutines.
func TestClientCacheCloseWaitsForTheLinksWatch(t *testing.T) {
	srv := integration.StartRedisServer(t, false)
	left := 0
	for i := range 10 {
		e := newCachedEnvAt(t, srv.URL(), redis.ClientCacheConfig{})
		time.Sleep(time.Duration(i*30) * time.Millisecond) // across a ping's period
		e.cache.Close()
		buf := make([]byte, 1<<20)
		if bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("redis.(*ClientCache).watch")) {
			left++
		}
	}
	if left > 0 {
		t.Errorf("%d of 10 Closes returned with the link's watch still running", left)
	}
}
