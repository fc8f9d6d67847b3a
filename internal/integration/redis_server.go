package integration

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// RedisServer is a throwaway redis-server on a loopback port, with its
// data in a directory of the test's, for tests that stop and restart the
// store. It never touches the shared server.
type RedisServer struct {
	proc *redisProcess
}

// StartRedisServer starts a redis-server on a free loopback port and waits
// until it answers; it is killed at cleanup. Durable keeps an append-only
// file synced on every write (appendfsync always), so that a write Redis
// acknowledged survives Kill and Restart, as on a production Redis with
// that setting; otherwise a restart loses every key. Without redis-server
// the test is skipped, or fails when integration tests are required.
func StartRedisServer(t *testing.T, durable bool) *RedisServer {
	t.Helper()
	requireRedis(t, "redis-server")
	dir := t.TempDir()
	persistence := []string{"--appendonly", "no"}
	if durable {
		persistence = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	r := &RedisServer{}
	t.Cleanup(func() { killAll(t, []*redisProcess{r.proc}) })
	proc, err := startOnFreePorts(func(port, _ int) (*redisProcess, error) {
		r.proc = &redisProcess{name: "redis-server", dir: dir, port: port, args: append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--daemonize", "no", "--logfile", "",
		}, persistence...)}
		return r.proc, nil
	})
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	r.proc = proc
	return r
}

// Addr is the server's address, host:port.
func (r *RedisServer) Addr() string { return r.proc.addr() }

// URL is the server's database 0.
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://%s/0", r.proc.addr()) }

// Restart starts the server again on the same port and data directory,
// after Kill, and waits until it answers with its data loaded.
func (r *RedisServer) Restart(t *testing.T) {
	t.Helper()
	if err := r.proc.start(); err != nil {
		t.Fatalf("restarting redis-server on %s: %v", r.proc.addr(), err)
	}
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. It does nothing if the server is not running; t may be
// nil.
func (r *RedisServer) Kill(t *testing.T) {
	if err := r.proc.kill(); err != nil && t != nil {
		t.Error(err)
	}
}

// AddReplicas starts n more servers, makes them replicas of r, and waits
// until r counts them all connected.
func (r *RedisServer) AddReplicas(t *testing.T, n int) {
	t.Helper()
	port := strconv.Itoa(r.proc.port)
	for range n {
		replica := StartRedisServer(t, false)
		if _, err := redisCommand(replica.proc.addr(), "REPLICAOF", "127.0.0.1", port); err != nil {
			t.Fatalf("making a replica: %v", err)
		}
	}
	want := strconv.Itoa(n)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := info(r.proc.addr(), "replication")
		if err == nil && m["connected_slaves"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas did not connect within 10 s (INFO replication: %v, %v)", n, m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
