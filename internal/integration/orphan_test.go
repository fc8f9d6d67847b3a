package integration

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphanWorkerEnv marks the process TestServersDieWithTheirTest starts:
// it runs TestOrphanWorker, which starts a redis-server and exits without
// its clean-ups, as a test binary does when go test's -timeout runs out.
const orphanWorkerEnv = "TOKENCACHE_TEST_ORPHAN_WORKER"

// TestServersDieWithTheirTest checks that a server a test started does not
// outlive the test's process when it dies without its clean-ups.
func TestServersDieWithTheirTest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux lets a process ask to die with its parent")
	}
	requireRedis(t, "redis-server")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanWorkerEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for sc := bufio.NewScanner(out); sc.Scan(); {
		if s, ok := strings.CutPrefix(sc.Text(), "SERVER "); ok {
			pid, _ = strconv.Atoi(s)
		}
	}
	_ = cmd.Wait() // it exits with an error, as a timed-out test does
	if pid <= 0 {
		t.Fatal("the worker started no server")
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server %d still runs 10s after the test that started it died", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a process's end: no event to wait on
	}
}

func TestOrphanWorker(t *testing.T) {
	if os.Getenv(orphanWorkerEnv) == "" {
		t.Skip("run by TestServersDieWithTheirTest only")
	}
	r := StartRedisServer(t, false)
	os.Stdout.WriteString("SERVER " + strconv.Itoa(r.proc.cmd.Process.Pid) + "\n")
	os.Exit(3) // no clean-up runs
}
