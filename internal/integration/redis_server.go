package integration

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a throwaway redis-server on a loopback port, with its
// data in a directory of the test's, for tests that stop and restart the
// store. It never touches the shared server.
type RedisServer struct {
	port    int
	dir     string
	durable bool
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
}

// StartRedisServer starts a redis-server on a free loopback port and waits
// until it answers; it is killed at cleanup. Durable keeps an append-only
// file synced on every write (appendfsync always), so that a write Redis
// acknowledged survives Kill and Restart, as on a production Redis with
// that setting; otherwise a restart loses every key. Without redis-server
// the test is skipped, or fails when integration tests are required.
func StartRedisServer(t *testing.T, durable bool) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if Required() {
			t.Fatalf("redis-server not found and TOKENCACHE_REQUIRE_INTEGRATION=1: %v", err)
		}
		t.Skipf("redis-server not found: %v", err)
	}
	r := &RedisServer{dir: t.TempDir(), durable: durable}
	t.Cleanup(func() {
		r.Kill(t)
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
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *RedisServer) logPath() string { return filepath.Join(r.dir, "redis.log") }

// Restart starts the server again on the same port and data directory,
// after Kill, and waits until it answers with its data loaded.
func (r *RedisServer) Restart(t *testing.T) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("restarting redis-server on port %d: %v", r.port, err)
	}
}

// start runs redis-server and waits up to 30 seconds for it to answer.
func (r *RedisServer) start() error {
	log, err := os.OpenFile(r.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	persistence := []string{"--appendonly", "no"}
	if r.durable {
		persistence = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	r.cmd = exec.Command("redis-server", append([]string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--daemonize", "no", "--logfile", "",
	}, persistence...)...)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	r.exited = exited
	go func() { _ = r.cmd.Wait(); close(exited) }()
	return r.waitReady(exited)
}

// waitReady polls until the server answers a PING with PONG, which it
// does not while it loads its append-only file.
func (r *RedisServer) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("redis-server exited before answering (see its log)")
		default:
		}
		err := r.ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			r.Kill(nil)
			return fmt.Errorf("redis-server did not answer within 30s: %w", err)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness: no event to wait on
	}
}

// ping sends PING on a connection of its own and wants +PONG.
func (r *RedisServer) ping() error {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis-server answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. It does nothing if the server is not running; t may be
// nil.
func (r *RedisServer) Kill(t *testing.T) {
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
