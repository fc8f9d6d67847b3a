package main

import (
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// daemon is a running "tokencache serve".
type daemon struct {
	cmd    *exec.Cmd
	base   string // such as http://127.0.0.1:41234
	stdout *output
	stderr *output
	exited chan struct{} // closed once the process has been waited for
	err    error         // its exit, after exited is closed
}

var listeningLine = regexp.MustCompile(`listening on (http://\S+)`)

// startServe starts tokencache serve with args and env and waits until it
// says where it listens. At cleanup it is killed if it still runs, and its
// log is shown if the test failed.
func startServe(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{
		cmd:    exec.Command(binary, append([]string{"serve"}, args...)...),
		stdout: newOutput(),
		stderr: newOutput(),
		exited: make(chan struct{}),
	}
	d.cmd.Env = processEnv(env...)
	integration.DieWithTest(d.cmd)
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readers := make(chan struct{}, 2)
	go func() { d.stdout.read(stdout); readers <- struct{}{} }()
	go func() { d.stderr.read(stderr); readers <- struct{}{} }()
	go func() {
		// Wait must come after the pipes are read to their end.
		<-readers
		<-readers
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("tokencache serve stdout:\n%s\nstderr:\n%s", d.stdout, d.stderr)
		}
	})
	d.base = d.stdout.waitFor(t, listeningLine)[1]
	return d
}

// stop sends SIGTERM and waits for the process to exit, failing the test
// unless it exits with 0.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
}

// wait waits up to a minute for the process to exit, failing the test
// unless it exits with 0.
func (d *daemon) wait(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
		t.Fatal("tokencache serve did not exit within a minute")
	}
	if d.err != nil {
		var exit *exec.ExitError
		if errors.As(d.err, &exit) {
			t.Fatalf("tokencache serve exited with %d, want 0", exit.ExitCode())
		}
		t.Fatal(d.err)
	}
}

// delegate asks the daemon for a child of parent with query.
func (d *daemon) delegate(t *testing.T, client *http.Client, parent domain.Token, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.base+"/auth/delegate?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+parent.String())
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// childOf returns the child token in a 200 response.
func childOf(t *testing.T, resp *http.Response) domain.Token {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	child, err := domain.ParseToken(resp.Header.Get("X-Auth-Request-Token"))
	if err != nil {
		t.Fatalf("X-Auth-Request-Token: %v", err)
	}
	return child
}
