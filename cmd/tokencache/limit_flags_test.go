package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeRefusesLimitsThatCannotWork(t *testing.T) {
	for _, args := range [][]string{
		{"--read-header-timeout", "0s"},
		{"--idle-timeout", "-1s"},
		{"--children-window", "0s"},
		{"--creation-timeout", "0s"},
		{"--max-header-bytes", "0"},
		{"--max-connections", "-5"},
		{"--database-max-connections", "0"},
		{"--request-timeout", "30s", "--write-timeout", "30s"},
		{"--write-timeout", "0s"},
		{"--write-timeout", "-1s"},
		// 0 would stand for the default in app.Config: refused, not
		// silently replaced.
		{"--max-children-per-parent", "0"},
		{"--cache-size", "0"},
		{"--token-lifetime", "0s"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, code := runBinary(t, nil, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, strings.TrimLeft(args[len(args)-2], "-")) {
				t.Errorf("stderr does not name the flag at fault: %s", stderr)
			}
		})
	}
}

func TestDaemonBoundsChildrenPerParent(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0", "--max-children-per-parent", "2", "--children-window", "1h")
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	for i, service := range []string{"bound-a", "bound-b"} {
		if resp := getDelegate(t, d, parent, "delegate_to="+service+"&delegate_scope=read:all"); resp.StatusCode != http.StatusOK {
			t.Fatalf("child %d: status = %d, want 200", i+1, resp.StatusCode)
		}
	}
	resp := getDelegate(t, d, parent, "delegate_to=bound-c&delegate_scope=read:all")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Error-Status") != "429" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third child: status %d, X-Error-Status %q, Retry-After %q; want 403, 429 and a time",
			resp.StatusCode, resp.Header.Get("X-Error-Status"), resp.Header.Get("Retry-After"))
	}
	// A child that exists is still handed out.
	if resp := getDelegate(t, d, parent, "delegate_to=bound-a&delegate_scope=read:all"); resp.StatusCode != http.StatusOK {
		t.Errorf("an existing child: status = %d, want 200", resp.StatusCode)
	}
	if n := s.children(t, parent, "internal", "bound-c"); n != 0 {
		t.Errorf("%d children were made over the bound, want none", n)
	}
}
