package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/internal/integration"
)

// A master with more replicas than RedisReplicaAcks can fail over to one
// that never acknowledged a child, which is then lost: the store says so,
// once, when it is made.
func TestIntegrationWarnsOfReplicasBeyondTheAcknowledgements(t *testing.T) {
	t.Parallel()
	master := integration.StartRedisServer(t, false)
	master.AddReplicas(t, 2)
	var key fernet.Key
	if err := key.Generate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acks int
		warn bool
	}{{1, true}, {2, false}} {
		cfg := app.Config{RedisURL: master.URL(), SessionSecret: key.Encode(), RedisReplicaAcks: tc.acks}
		logs := &lockedBuffer{}
		logger := slog.New(slog.NewJSONHandler(logs, nil))
		client, cleanup, err := app.ProvideRedisClient(context.Background(), cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		if _, err := app.ProvideRedisTokenStore(client, nil, cfg, memory.SystemClock{}, logger); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(logs.String(), "replicas that each write does not wait for")
		if warned != tc.warn {
			t.Errorf("RedisReplicaAcks %d with 2 replicas: warned %v, want %v; logs:\n%s", tc.acks, warned, tc.warn, logs.String())
		}
	}
}

// lockedBuffer is a bytes.Buffer that goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
