package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

const urlPassword = "hunter2-do-not-print"

func TestNewClientConnects(t *testing.T) {
	t.Parallel()
	client, cleanup, err := redis.NewClient(context.Background(), integration.RedisURL(t))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	cleanup()
	if err := client.Ping(context.Background()).Err(); !errors.Is(err, goredis.ErrClosed) {
		t.Fatalf("PING after cleanup returned %v, want goredis.ErrClosed", err)
	}
}

func TestNewClientRejectsBadURL(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{
		"empty":            "",
		"wrong scheme":     "http://127.0.0.1:6379/0",
		"bad database":     "redis://127.0.0.1:6379/zero",
		"bad port":         "redis://:" + urlPassword + "@127.0.0.1:port/0",
		"control char":     "redis://user:" + urlPassword + "@127.0.0.1:6379/0\x7f",
		"unknown option":   "redis://:" + urlPassword + "@127.0.0.1:6379/0?bogus=1",
		"bad option value": "redis://:" + urlPassword + "@127.0.0.1:6379/0?dial_timeout=soon",
		// A password that is not percent-encoded: the parsers' messages
		// quote whatever part of it lands in the port, path or query.
		"password with a slash":                    "redis://:s3cr/hunter2-do-not-print@127.0.0.1:6379/0",
		"password with a slash, database":          "redis://:1234/hunter2-do-not-print@127.0.0.1:6379",
		"password with a question mark":            "redis://:1234?hunter2-do-not-print@127.0.0.1:6379",
		"password with a percent":                  "redis://:hunter2%do-not-print@127.0.0.1:6379",
		"sentinel password with a slash":           "redis+sentinel://:1234/hunter2-do-not-print@127.0.0.1:26379?master_name=m",
		"cluster password with a question mark":    "redis+cluster://:1234?hunter2-do-not-print@127.0.0.1:7000",
		"master password option with an ampersand": "redis+sentinel://127.0.0.1:26379?master_name=m&password=1234&hunter2-do-not-print",
		"password option with an ampersand, short": "redis://127.0.0.1:6379/0?password=hunter2&s3c",
		"cluster password with a slash":            "redis+cluster://:1234/hunter2-do-not-print@127.0.0.1:7000",
		"cluster password starting with a slash":   "rediss+cluster://:/hunter2-do-not-print@127.0.0.1:7000",
		"cluster user and a slash":                 "redis+cluster://admin:/hunter2-do-not-print@127.0.0.1:7000",
		// "//" mistyped: the parsers see no credentials, and quote them as
		// a path.
		"one slash after the scheme":   "redis:/:hunter2-do-not-print@127.0.0.1:6379/0",
		"one slash, user and password": "redis:/default:hunter2-do-not-print@127.0.0.1:6379",
		"sentinel, one slash":          "redis+sentinel:/:hunter2-do-not-print@127.0.0.1:26379?master_name=m",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client, cleanup, err := redis.NewClient(context.Background(), url)
			if err == nil {
				cleanup()
				t.Fatalf("NewClient accepted %q", url)
			}
			if client != nil || cleanup != nil {
				t.Error("NewClient returned a client or cleanup with its error")
			}
			for _, fragment := range []string{urlPassword, "hunter2", "do-not-print", "s3c"} {
				if strings.Contains(err.Error(), fragment) {
					t.Fatalf("error %q quotes %q of the password", err, fragment)
				}
			}
		})
	}
}

func TestNewClientUnreachable(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	url := fmt.Sprintf("redis://:%s@%s/0", urlPassword, addr)
	client, cleanup, err := redis.NewClient(context.Background(), url)
	if err == nil {
		cleanup()
		t.Fatalf("NewClient connected to %s, where nothing listens", addr)
	}
	if client != nil || cleanup != nil {
		t.Error("NewClient returned a client or cleanup with its error")
	}
	if strings.Contains(err.Error(), urlPassword) {
		t.Fatalf("error %q contains the password", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address", err)
	}
}

// A server that stops answering holds a store call only until the call's
// deadline, not for the client's 5-second read timeout.
func TestNewClientHonoursDeadlines(t *testing.T) {
	t.Parallel()
	client, cleanup, err := redis.NewClient(context.Background(), "redis://"+silentServer(t)+"/0")
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(cleanup)
	store, err := redis.NewTokenStore(client, newSessionSecret(t), memory.SystemClock{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = store.GetByKey(ctx, "5KVApqcVbSQWtO3VIRgOhQ")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("GetByKey returned %v after its deadline", elapsed-200*time.Millisecond)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetByKey on a silent server = %v, want context.DeadlineExceeded", err)
	}
}
