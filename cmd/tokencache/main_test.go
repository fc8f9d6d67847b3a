package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testVersion is stamped into the binary the tests run.
const testVersion = "v0.0.0-test"

// binary is the tokencache built by TestMain for the tests that run it as
// a process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokencache-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tokencache")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tokencache:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// processEnv is the test's environment without the variables that would
// point the binary at real stores, plus extra.
func processEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, name := range []string{envRedisURL, envDatabaseURL, envSessionSecret} {
			if strings.HasPrefix(kv, name+"=") {
				return true
			}
		}
		return false
	})
	return append(env, extra...)
}

// runBinary runs tokencache to completion and returns its standard output,
// standard error and exit code.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = processEnv(env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("tokencache %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// output collects a process's lines as they come, for tests to wait on.
type output struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on each new line
	closed  bool          // the stream has ended
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

// read reads r to its end, line by line.
func (o *output) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		o.mu.Lock()
		o.lines = append(o.lines, sc.Text())
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
	}
	o.mu.Lock()
	o.closed = true
	close(o.changed)
	o.mu.Unlock()
}

// waitFor waits for a line matching re and returns its submatches. It
// fails the test if the stream ends or a minute passes first.
func (o *output) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	seen := 0
	for {
		o.mu.Lock()
		for ; seen < len(o.lines); seen++ {
			if m := re.FindStringSubmatch(o.lines[seen]); m != nil {
				o.mu.Unlock()
				return m
			}
		}
		closed, changed := o.closed, o.changed
		o.mu.Unlock()
		if closed {
			t.Fatalf("output ended without a line matching %s", re)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no line matching %s within a minute", re)
		}
	}
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}
