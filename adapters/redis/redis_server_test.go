package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// redisServer is a throwaway redis-server on a loopback port that keeps
// nothing on disk, for tests that stop and restart the store: a restart
// loses every key. It never touches the shared server.
type redisServer struct {
	port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// startRedisServer starts a redis-server on a free loopback port and waits
// until it answers. It is killed at cleanup. Without redis-server the test
// is skipped, or fails when integration tests are required.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if integration.Required() {
			t.Fatalf("redis-server not found and TOKENCACHE_REQUIRE_INTEGRATION=1: %v", err)
		}
		t.Skipf("redis-server not found: %v", err)
	}
	r := &redisServer{dir: t.TempDir()}
	t.Cleanup(func() {
		r.kill(t)
		if t.Failed() {
			if log, err := os.ReadFile(r.logPath()); err == nil {
				t.Logf("redis-server log:\n%s", log)
			}
		}
	})
	// Another process may take the free port before redis-server binds
	// it: try a few.
	var err error
	for range 3 {
		if r.port, err = freeLoopbackPort(); err != nil {
			t.Fatal(err)
		}
		if err = r.start(); err == nil {
			return r
		}
	}
	t.Fatalf("starting redis-server: %v", err)
	return nil
}

// URL is the server's database 0.
func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) logPath() string { return filepath.Join(r.dir, "redis.log") }

// restart starts the server again on the same port, after kill, empty.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("restarting redis-server on port %d: %v", r.port, err)
	}
}

// start runs redis-server and waits up to 30 seconds for it to answer.
func (r *redisServer) start() error {
	log, err := os.OpenFile(r.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	r.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "")
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	r.exited = exited
	go func() { _ = r.cmd.Wait(); close(exited) }()
	return r.waitReady(exited)
}

// waitReady polls until the server answers a PING.
func (r *redisServer) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("redis-server exited before answering (see its log)")
		default:
		}
		if err := r.ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			r.kill(nil)
			return fmt.Errorf("redis-server did not answer within 30s: %w", err)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness: no event to wait on
	}
}

func (r *redisServer) ping() error {
	c := goredis.NewClient(&goredis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1, DialerRetries: 1,
		DialTimeout: time.Second, ReadTimeout: time.Second,
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. It does nothing if the server is not running.
func (r *redisServer) kill(t *testing.T) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	if err := r.cmd.Process.Kill(); err != nil && t != nil {
		t.Errorf("killing redis-server: %v", err)
	}
	<-r.exited
}

// freeLoopbackPort returns a port that nothing listened on a moment ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
