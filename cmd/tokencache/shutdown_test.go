package main

import (
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// serve exits 1 after SIGTERM only "when requests were still in flight at
// the end of --shutdown-timeout" (README). These tests hold one request in
// flight with Redis behind a stalled fault proxy, until --request-timeout
// answers it 503, and send SIGTERM 200 ms after it.

// sigtermDuringARequest starts serve with args, its Redis stalled, sends
// it a request for a child and SIGTERM 200 ms later, and waits for serve
// to exit. It returns the request's status (0 if it got no answer) and how
// long after SIGTERM the answer came, or the request failed.
func sigtermDuringARequest(t *testing.T, args ...string) (d *daemon, status int, answered time.Duration) {
	t.Helper()
	s := newRealStores(t)
	redisProxy := startFaultProxy(t, integration.RedisURL(t))
	env := []string{
		envRedisURL + "=" + proxiedURL(t, integration.RedisURL(t), redisProxy),
		envDatabaseURL + "=" + integration.DatabaseURL(t),
		envSessionSecret + "=" + s.secret,
	}
	d = startServe(t, env, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	redisProxy.Stall()

	type answer struct {
		status int
		at     time.Time
	}
	answers := make(chan answer, 1)
	go func() {
		client := &http.Client{Timeout: 30 * time.Second}
		req, _ := http.NewRequest(http.MethodGet, d.base+"/auth/delegate?delegate_to=shutdown&delegate_scope=read:all", nil)
		req.Header.Set("Authorization", "Bearer "+parent.String())
		var status int
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			status = resp.StatusCode
		}
		answers <- answer{status, time.Now()}
	}()
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-answers
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
		t.Fatal("tokencache serve did not exit within a minute")
	}
	t.Logf("request: %d %v after SIGTERM; serve exited %v after it: %v",
		a.status, a.at.Sub(sent).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond), d.err)
	return d, a.status, a.at.Sub(sent)
}

// The request is answered 0.8 s after SIGTERM, 0.2 s before the end of
// --shutdown-timeout: net/http's Shutdown, which looks for busy
// connections every 500 ms by then, saw it in flight last, and serve
// exited 1 ("shutting down: context deadline exceeded").
func TestServeExitsZeroWhenItsLastRequestIsAnsweredLateInTheShutdownTimeout(t *testing.T) {
	d, status, answered := sigtermDuringARequest(t, "--request-timeout", "1s", "--shutdown-timeout", "1s")
	if status != http.StatusServiceUnavailable || answered >= time.Second {
		t.Fatalf("request: %d %v after SIGTERM, want 503 within the shutdown timeout of 1s", status, answered)
	}
	d.wait(t)
	if !strings.Contains(d.stderr.String(), `"msg":"shut down"`) {
		t.Error("the log does not record a clean shutdown")
	}
}

func TestServeExitsOneWhenARequestOutlastsTheShutdownTimeout(t *testing.T) {
	d, status, answered := sigtermDuringARequest(t, "--request-timeout", "3s", "--shutdown-timeout", "1s")
	if status != 0 || answered > 2*time.Second {
		t.Errorf("request: %d %v after SIGTERM, want its connection closed at the end of the shutdown timeout of 1s",
			status, answered)
	}
	var exit *exec.ExitError
	if !errors.As(d.err, &exit) || exit.ExitCode() != exitError {
		t.Errorf("tokencache serve exited with %v, want %d", d.err, exitError)
	}
	if !strings.Contains(d.stderr.String(), "requests still in flight (1)") {
		t.Errorf("the log does not say a request was still in flight:\n%s", d.stderr)
	}
}
