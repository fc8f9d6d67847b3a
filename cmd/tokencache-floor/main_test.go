package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerAnswersAsADaemonHit(t *testing.T) {
	rec := httptest.NewRecorder()
	floorHandler{}.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/delegate?delegate_to=portal", nil))

	if rec.Code != http.StatusOK {
		t.Errorf("status %d, want 200", rec.Code)
	}
	for name, want := range map[string]string{
		"X-Auth-Request-User":  floorUser,
		"X-Auth-Request-Token": floorToken,
		"Content-Type":         "application/json",
		"Cache-Control":        "no-cache, no-store",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := rec.Body.String(); got != "{\"status\":\"ok\"}\n" {
		t.Errorf("body %q", got)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	outR, outW := io.Pipe()
	t.Cleanup(func() { outR.Close() })
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--listen", "127.0.0.1:0"}, outW, &stderr)
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v (stderr %q)", err, stderr.String())
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "tokencache-floor: listening on ")
	if !ok {
		t.Fatalf("first line %q does not give the address", line)
	}
	go io.Copy(io.Discard, outR) // nothing more is expected, but never block run

	resp, err := http.Get(base + "/auth/delegate")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-Request-Token") != floorToken {
		t.Fatalf("GET: status %d, token %q, body %q, err %v",
			resp.StatusCode, resp.Header.Get("X-Auth-Request-Token"), body, err)
	}

	cancel()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit code %d after cancel, want %d (stderr %q)", c, exitOK, stderr.String())
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("still answering after run returned")
	}
}

func TestRunRefusesBadInvocations(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"help", []string{"-h"}, exitOK, "-listen"},
		{"unknown flag", []string{"--port", "80"}, exitUsage, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, exitUsage, `unexpected argument "serve"`},
		{"address that cannot be listened on", []string{"--listen", "127.0.0.1:99999"}, exitError, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if got := run(context.Background(), tt.args, &stdout, &stderr); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
			if !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.message)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
