package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
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
	if _, err := postgresBin(); err != nil {
		t.Skipf("PostgreSQL not found: %v", err)
	}
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
	servers := map[string]int{} // name to pid
	for sc := bufio.NewScanner(out); sc.Scan(); {
		switch f := strings.Fields(sc.Text()); {
		case len(f) == 3 && f[0] == "SERVER":
			servers[f[1]], _ = strconv.Atoi(f[2])
		case len(f) == 2 && f[0] == "TEMP":
			// The worker's own clean-up of its temporary directory never
			// runs: this one removes it, once its servers are gone.
			t.Cleanup(func() { _ = os.RemoveAll(f[1]) })
		}
	}
	_ = cmd.Wait() // it exits with an error, as a timed-out test does
	if len(servers) != 2 {
		t.Fatalf("the worker reported servers %v, want redis-server and postgres", servers)
	}
	for name, pid := range servers {
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("%s %d still runs 10s after the test that started it died", name, pid)
			}
			time.Sleep(10 * time.Millisecond) // polling a process's end: no event to wait on
		}
	}
}

func TestOrphanWorker(t *testing.T) {
	if os.Getenv(orphanWorkerEnv) == "" {
		t.Skip("run by TestServersDieWithTheirTest only")
	}
	r := StartRedisServer(t, false)
	p := StartPostgresServer(t)
	pidFile, err := os.ReadFile(filepath.Join(p.dataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, _, _ := strings.Cut(string(pidFile), "\n")
	os.Stdout.WriteString("SERVER redis-server " + strconv.Itoa(r.proc.cmd.Process.Pid) + "\n" +
		"SERVER postgres " + postmaster + "\n" +
		"TEMP " + filepath.Dir(r.proc.dir) + "\n") // t.TempDir's root for this test
	os.Exit(3) // no clean-up runs
}
