package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// redisProcess is one redis-server process of a throwaway server or
// topology, on a loopback port, logging to a file in its directory. It
// can be killed and started again with the same arguments.
type redisProcess struct {
	name   string   // for messages, such as "cluster node 2"
	dir    string   // its working directory, with its log
	port   int      // where it answers
	args   []string // given to redis-server on every start
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// requireRedis skips the test, or fails it when integration tests are
// required, unless the named programs (redis-server, redis-cli) are on
// the PATH.
func requireRedis(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if Required() {
				t.Fatalf("%s not found and TOKENCACHE_REQUIRE_INTEGRATION=1: %v", p, err)
			}
			t.Skipf("%s not found: %v", p, err)
		}
	}
}

func (p *redisProcess) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *redisProcess) logPath() string { return filepath.Join(p.dir, "redis.log") }

// start runs redis-server with p.args and waits up to 30 seconds until it
// answers a PING.
func (p *redisProcess) start() error {
	log, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	p.cmd = exec.Command("redis-server", p.args...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = log, log
	DieWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() { _ = p.cmd.Wait(); close(exited) }()
	return p.waitReady(exited)
}

// waitReady polls until the process answers a PING with PONG, which a
// server does not while it loads its data.
func (p *redisProcess) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("%s exited before answering (see its log)", p.name)
		default:
		}
		err := ping(p.addr())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.kill()
			return fmt.Errorf("%s did not answer within 30s: %w", p.name, err)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness: no event to wait on
	}
}

// running reports whether the process was started and has not exited.
func (p *redisProcess) running() bool {
	if p.cmd == nil || p.cmd.Process == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill stops the process at once with SIGKILL, as a crash would, and waits
// for it to exit. It does nothing if the process is not running.
func (p *redisProcess) kill() error {
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

// startOnFreePorts starts a process made by mk for a free loopback port
// (and a second one, for a cluster's bus), trying a few: another process
// may take a free port before redis-server binds it.
func startOnFreePorts(mk func(port, bus int) (*redisProcess, error)) (*redisProcess, error) {
	var err error
	for range 3 {
		var port, bus int
		if port, err = freeLoopbackPort(); err != nil {
			return nil, err
		}
		if bus, err = freeLoopbackPort(); err != nil {
			return nil, err
		}
		if port == bus {
			err = errors.New("the same port was free twice")
			continue
		}
		var p *redisProcess
		if p, err = mk(port, bus); err != nil {
			return nil, err
		}
		if err = p.start(); err == nil {
			return p, nil
		}
	}
	return nil, err
}

// killAll kills procs at cleanup, and logs their logs if the test failed.
func killAll(t *testing.T, procs []*redisProcess) {
	t.Helper()
	for _, p := range procs {
		if p == nil {
			continue
		}
		if t.Failed() && p.cmd != nil && !p.running() {
			t.Logf("%s (pid %d, port %d) had exited before the clean-up: %v", p.name, p.cmd.Process.Pid, p.port, p.cmd.ProcessState)
		}
		if err := p.kill(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			if log, err := os.ReadFile(p.logPath()); err == nil {
				t.Logf("%s log:\n%s", p.name, log)
			}
		}
	}
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
