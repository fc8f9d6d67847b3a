package main

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/domain"
)

// curlLine is the first curl command serve prints in memory mode.
var curlLine = regexp.MustCompile(`^\s*curl -i -H "Authorization: Bearer (gt-[^"]+)" "([^"]+)"$`)

func TestServeInMemoryPrintsAWorkingCurlLine(t *testing.T) {
	d := startServe(t, nil, "--listen", "127.0.0.1:0")
	m := d.stdout.waitFor(t, curlLine)
	bearer, url := m[1], m[2]
	if !strings.HasPrefix(url, d.base+"/auth/delegate?notebook=true") {
		t.Fatalf("curl URL %s is not the notebook endpoint at %s", url, d.base)
	}

	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	child := childOf(t, resp)
	if child.String() == bearer {
		t.Error("the child is the parent itself")
	}
	if got := resp.Header.Get("X-Auth-Request-User"); got != "demo" {
		t.Errorf("X-Auth-Request-User = %q, want demo", got)
	}

	health, err := http.Get(d.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusOK {
		t.Errorf("/healthz status = %d, want 200", health.StatusCode)
	}

	d.stop(t)
	parent, _ := domain.ParseToken(bearer)
	if logs := d.stderr.String(); strings.Contains(logs, parent.Secret) || strings.Contains(logs, child.Secret) {
		t.Errorf("a token secret reached the log:\n%s", logs)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"shut down"`) {
		t.Error("the log does not record a clean shutdown")
	}
}

func TestServeReportsAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, stderr, code := runBinary(t, nil, "serve", "--listen", ln.Addr().String())
	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, "address already in use") || !strings.Contains(stderr, ln.Addr().String()) {
		t.Errorf("stderr = %q, want it to say the address is in use", stderr)
	}
}

func TestServePassesTokenLifetimeToTheService(t *testing.T) {
	// With 10m, the longest minimum_lifetime the service accepts is 5m.
	d := startServe(t, nil, "--listen", "127.0.0.1:0", "--token-lifetime", "10m")
	demo, err := domain.ParseToken(d.stdout.waitFor(t, curlLine)[1])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		minimum string
		want    int
	}{
		{"300", http.StatusOK},
		{"301", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run("minimum_lifetime="+tt.minimum, func(t *testing.T) {
			resp := d.delegate(t, http.DefaultClient, demo, "notebook=true&minimum_lifetime="+tt.minimum)
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	d.stop(t)
}
