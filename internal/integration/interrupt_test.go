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

const interruptWorkerEnv = "TOKENCACHE_TEST_INTERRUPT_WORKER"

// Ctrl-C in a terminal sends SIGINT to the whole foreground process
// group: the test binary dies without its clean-ups, and so does the
// guard ("sh -c 'cat; pg_ctl stop; rm -rf'"), which is in the same group,
// before it has stopped anything. pg_ctl put the postmaster in a session
// of its own, so it survives, as does the directory.
func TestPostgresDiesWithItsTestOnInterrupt(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	if _, err := postgresBin(); err != nil {
		t.Skipf("PostgreSQL not found: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), interruptWorkerEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a process group of its own, as a shell's job
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var pid int
	var dir string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "SERVER" {
			pid, _ = strconv.Atoi(f[1])
			dir = f[2]
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		t.Fatal("the worker reported no server")
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
			_ = os.RemoveAll(dir)
			t.Fatalf("postgres %d still runs 10s after its test was interrupted (directory %s)", pid, dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err == nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("the directory %s outlived the interrupted test", dir)
	}
}

func TestInterruptWorker(t *testing.T) {
	if os.Getenv(interruptWorkerEnv) == "" {
		t.Skip("run by TestPostgresDiesWithItsTestOnInterrupt only")
	}
	p := StartPostgresServer(t)
	pidFile, err := os.ReadFile(filepath.Join(p.dataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, _, _ := strings.Cut(string(pidFile), "\n")
	os.Stdout.WriteString("SERVER " + postmaster + " " + p.dir + "\n")
	time.Sleep(time.Minute) // until interrupted
}
