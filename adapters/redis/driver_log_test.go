package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9/logging"

	"github.com/tokencache/tokencache/adapters/redis"
)

// syncBuffer is a bytes.Buffer safe for the driver's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// go-redis's own lines ("failed to dial ...") go to the injected logger as
// JSON, never as plain text on standard error, and hold no password. Not
// parallel: go-redis has one logger per process.
func TestRouteDriverLogWritesJSON(t *testing.T) {
	var buf syncBuffer
	redis.RouteDriverLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(logging.Enable) // back to go-redis's default

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	if _, _, err := redis.NewClient(context.Background(), fmt.Sprintf("redis://:%s@%s/0", urlPassword, addr)); err == nil {
		t.Fatal("NewClient connected where nothing listens")
	}

	out := buf.String()
	if !strings.Contains(out, "failed to dial") {
		t.Fatalf("go-redis's dial failure is not in the log: %q", out)
	}
	if strings.Contains(out, urlPassword) {
		t.Fatalf("the log holds the password: %s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Level, Msg, Detail string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec.Level != "WARN" || rec.Msg != "redis driver" || rec.Detail == "" {
			t.Errorf("log line %q: want a warning \"redis driver\" with the detail", line)
		}
	}
}
