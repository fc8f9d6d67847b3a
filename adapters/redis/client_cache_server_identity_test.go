package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// On Sentinel, a value read from another server than the link's is not
// kept even when that server reports the same address of its own as the
// link's (CLIENT INFO's laddr), as servers in containers, or behind TLS
// proxies on their hosts, all report 127.0.0.1:6379: an old master the
// store's client still reads from may be one of them.
func TestClientCacheSentinelKeepsNothingFromAServerWithTheSameLocalAddress(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	secret := newSessionSecret(t)
	clock := memory.NewManualClock(time.Now().UTC().Truncate(time.Second))
	cache, err := redis.NewClientCache(ctx, newClientAt(t, group.URL()), redis.ClientCacheConfig{}, logger)
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	t.Cleanup(cache.Close)

	master := newClientAt(t, group.URL())
	writer, err := redis.NewTokenStore(master, secret, clock, logger)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: writer, raw: master, secret: secret, clock: clock}
	data := e.fullData(t)
	if err := writer.Store(ctx, data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	value, err := master.Get(ctx, "token:"+data.Token.Key).Result()
	if err != nil {
		t.Fatal(err)
	}
	info, err := master.ClientInfo(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	other := newLookalikeServer(t, info.LAddr, map[string]string{"token:" + data.Token.Key: value})
	store, err := redis.NewTokenStore(newClientAt(t, "redis://"+other+"/0"), secret, clock, logger, redis.WithClientCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := store.Get(ctx, data.Token); err != nil {
			t.Fatalf("Get from the other server: %v", err)
		}
	}
	if s := cache.Stats(); s.Hits != 0 || s.Entries != 0 || !s.Linked {
		t.Errorf("reads from a server the link is not on were kept or served from memory, or the link is down (stats %+v)", s)
	}
}

// newLookalikeServer starts a server on a loopback port that answers as a
// Redis of its own (its own run_id in INFO) holding values, without
// expiry, but reports laddr as the address it was reached at (CLIENT
// INFO), as a server in a container reports the address it listens on
// there. It speaks RESP2 (HELLO is refused) and answers GET, PTTL, PING,
// CLIENT INFO and INFO, and OK to CLIENT SETINFO and SELECT. It returns its
// address and stops when t ends.
func newLookalikeServer(t *testing.T, laddr string, values map[string]string) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) { serveLookalike(conn, laddr, values) })
}

func serveLookalike(conn net.Conn, laddr string, values map[string]string) {
	bulk := func(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		command := strings.ToUpper(args[0])
		if len(args) > 1 && (command == "CLIENT" || command == "INFO") {
			command += " " + strings.ToUpper(args[1])
		}
		var reply string
		switch command {
		case "PING":
			reply = "+PONG\r\n"
		case "SELECT", "CLIENT SETINFO":
			reply = "+OK\r\n"
		case "GET":
			reply = "$-1\r\n"
			if v, ok := values[args[1]]; ok {
				reply = bulk(v)
			}
		case "PTTL":
			reply = ":-2\r\n"
			if _, ok := values[args[1]]; ok {
				reply = ":-1\r\n"
			}
		case "CLIENT INFO":
			reply = bulk("id=3 addr=" + conn.RemoteAddr().String() + " laddr=" + laddr + " fd=8 name= db=0 resp=2\n")
		case "INFO SERVER", "INFO":
			reply = bulk("# Server\r\nredis_version:7.0.15\r\nrun_id:0123456789abcdef0123456789abcdef01234567\r\ntcp_port:6379\r\n")
		default:
			reply = "-ERR unknown command '" + args[0] + "'\r\n"
		}
		if _, err := io.WriteString(conn, reply); err != nil {
			return
		}
	}
}
