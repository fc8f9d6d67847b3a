package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

func TestWithReplicaAcksRefused(t *testing.T) {
	t.Parallel()
	single := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	cluster := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	for _, c := range []goredis.UniversalClient{single, cluster, ring} {
		t.Cleanup(func() { _ = c.Close() })
	}
	tests := []struct {
		name    string
		client  goredis.UniversalClient
		n       int
		timeout time.Duration
		wantErr string // "" for none
	}{
		{"off", single, 0, 0, ""},
		{"off on a cluster", cluster, 0, time.Second, ""},
		{"one on a single server", single, 1, time.Second, ""},
		{"negative", single, -1, time.Second, "must not be negative"},
		{"no timeout", single, 1, 0, "timeout 0s must be positive"},
		{"cluster", cluster, 1, time.Second, "not supported on a redis cluster"},
		{"ring", ring, 1, time.Second, "not supported on a redis cluster or ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redis.NewTokenStore(tt.client, newSessionSecret(t), memory.SystemClock{}, slog.New(slog.DiscardHandler),
				redis.WithReplicaAcks(tt.n, tt.timeout))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("NewTokenStore: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NewTokenStore = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// On one server without replicas: with acknowledgements off a write is a
// plain SET; with one asked for, SET and WAIT go in one pipeline and the
// write fails after the timeout, not before, naming how many replicas
// acknowledged, though the entry was written.
func TestReplicaAcksSingleServer(t *testing.T) {
	t.Parallel()
	client := newClientAt(t, integration.StartRedisServer(t, false).URL())
	calls := &commandLog{}
	client.AddHook(calls)
	for _, tc := range []struct {
		name      string
		n         int
		wantCalls string // each round trip's commands
		wantErr   bool
	}{
		{"off", 0, "set", false},
		{"one replica asked for", 1, "set wait", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAckEnv(t, client, tc.n, 200*time.Millisecond)
			data := e.fullData(t)
			calls.reset()
			start := time.Now()
			err := e.store.Store(context.Background(), data)
			elapsed := time.Since(start)
			if got := calls.String(); got != tc.wantCalls {
				t.Errorf("Store made the round trips %q, want %q", got, tc.wantCalls)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Store: %v", err)
				}
				return
			}
			checkNotReplicated(t, e, err, data, "0 of 1")
			if elapsed < 190*time.Millisecond {
				t.Errorf("Store failed after %v, before the acknowledgement timeout", elapsed)
			}
			if n, _ := e.raw.Exists(context.Background(), "token:"+data.Token.Key).Result(); n != 1 {
				t.Error("the entry whose write was not acknowledged is not on the server: want it written")
			}
		})
	}
}

// A delete is a write too: the clean-up of a child whose creation failed
// must not be lost in a failover, or the child would come back without its
// rows. With acknowledgements asked for, DEL and WAIT go in one pipeline,
// and on one server without replicas the delete fails, though done.
func TestReplicaAcksDelete(t *testing.T) {
	t.Parallel()
	client := newClientAt(t, integration.StartRedisServer(t, false).URL())
	calls := &commandLog{}
	client.AddHook(calls)
	for _, tc := range []struct {
		name      string
		n         int
		wantCalls string
		wantErr   bool
	}{
		{"off", 0, "del", false},
		{"one replica asked for", 1, "del wait", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAckEnv(t, client, tc.n, 200*time.Millisecond)
			data := e.fullData(t)
			if err := e.raw.Set(context.Background(), "token:"+data.Token.Key, "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			calls.reset()
			err := e.store.Delete(context.Background(), data.Token.Key)
			if got := calls.String(); got != tc.wantCalls {
				t.Errorf("Delete made the round trips %q, want %q", got, tc.wantCalls)
			}
			switch {
			case !tc.wantErr && err != nil:
				t.Fatalf("Delete: %v", err)
			case tc.wantErr && !errors.Is(err, redis.ErrNotReplicated):
				t.Fatalf("Delete = %v, want ErrNotReplicated", err)
			}
			if n, _ := e.raw.Exists(context.Background(), "token:"+data.Token.Key).Result(); n != 0 {
				t.Error("the entry is still on the server: want it deleted, acknowledged or not")
			}
		})
	}
}

// On a Sentinel group: a write succeeds once the replica holds it, fails
// while the replica is down (within the context's deadline when that is
// nearer than the timeout), and succeeds again once it is back.
func TestReplicaAcksSentinel(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	client := newClientAt(t, group.URL())
	e := newAckEnv(t, client, 1, 5*time.Second)
	replica := goredis.NewClient(&goredis.Options{Addr: group.ReplicaAddr()})
	t.Cleanup(func() { _ = replica.Close() })
	ctx := context.Background()

	storeHeld := func(t *testing.T) {
		t.Helper()
		data := e.fullData(t)
		if err := e.store.Store(ctx, data); err != nil {
			t.Fatalf("Store with the replica attached: %v", err)
		}
		// Acknowledged: the replica has it, without waiting for it.
		if n, err := replica.Exists(ctx, "token:"+data.Token.Key).Result(); err != nil || n != 1 {
			t.Errorf("the replica has %d entries for the acknowledged write (%v), want 1", n, err)
		}
	}
	t.Run("replica attached", storeHeld)
	t.Run("replica stopped", func(t *testing.T) {
		group.StopReplica(t)
		data := e.fullData(t)
		// The context's deadline, not the 5 s timeout, bounds the WAIT,
		// which fails the write rather than the deadline.
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := e.store.Store(wctx, data)
		// Bounded by the deadline, not the 5 s timeout: a second of slack
		// for a loaded machine still tells the two apart.
		if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
			t.Errorf("Store took %v, well past its context's deadline of 500ms", elapsed)
		}
		checkNotReplicated(t, e, err, data, "0 of 1")
		if n, _ := e.raw.Exists(ctx, "token:"+data.Token.Key).Result(); n != 1 {
			t.Error("the entry whose write was not acknowledged is not on the master: want it written, for the caller to delete")
		}
	})
	t.Run("replica back", func(t *testing.T) {
		group.StartReplica(t)
		storeHeld(t)
	})
}

// newAckEnv is a store on client asking n replicas to acknowledge each
// write within timeout.
func newAckEnv(t *testing.T, client goredis.UniversalClient, n int, timeout time.Duration) *env {
	t.Helper()
	e := &env{
		raw:    client,
		secret: newSessionSecret(t),
		clock:  memory.NewManualClock(time.Now().UTC().Truncate(time.Second)),
		logs:   new(logBuffer),
	}
	store, err := redis.NewTokenStore(client, e.secret, e.clock, slog.New(slog.NewJSONHandler(e.logs, nil)),
		redis.WithReplicaAcks(n, timeout))
	if err != nil {
		t.Fatalf("NewTokenStore: %v", err)
	}
	e.store = store
	return e
}

// checkNotReplicated checks that err is Store's failure for too few
// acknowledgements, saying how many (want, such as "0 of 1"), and holds no
// secret.
func checkNotReplicated(t *testing.T, e *env, err error, data domain.TokenData, want string) {
	t.Helper()
	switch {
	case !errors.Is(err, redis.ErrNotReplicated):
		t.Fatalf("Store = %v, want ErrNotReplicated", err)
	case !strings.Contains(err.Error(), want+" acknowledged"):
		t.Errorf("Store's error %q does not say %q acknowledged", err, want)
	case containsSecret(err.Error(), data.Token.Secret) || containsSecret(err.Error(), e.secret):
		t.Errorf("Store's error %q contains a secret", err)
	}
}

// commandLog is a go-redis hook recording the commands of each round
// trip: one command, or a pipeline's; a new connection's set-up (HELLO,
// CLIENT SETINFO) is left out.
type commandLog struct {
	mu    sync.Mutex
	trips []string
}

func (l *commandLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (l *commandLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		l.add([]goredis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		l.add(cmds)
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmds []goredis.Cmder) {
	var names []string
	for _, c := range cmds {
		if name := c.Name(); name != "hello" && name != "client" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trips = append(l.trips, strings.Join(names, " "))
}

func (l *commandLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trips = nil
}

// String is the round trips, separated by "; ".
func (l *commandLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.trips, "; ")
}
