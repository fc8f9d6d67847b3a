package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
)

// The daemon with both stores behind fault proxies: whatever a store does,
// every request is answered by --request-timeout, the next one succeeds
// once the store answers again, and everything the daemon writes to
// standard error is a JSON line, go-redis's own complaints included.

const (
	faultRequestTimeout = time.Second
	faultLeeway         = time.Second
)

func TestDaemonAnswersByItsTimeoutWhateverTheStoresDo(t *testing.T) {
	s := newRealStores(t)
	redisProxy := startFaultProxy(t, integration.RedisURL(t))
	pgProxy := startFaultProxy(t, integration.DatabaseURL(t))
	env := []string{
		envRedisURL + "=" + proxiedURL(t, integration.RedisURL(t), redisProxy),
		envDatabaseURL + "=" + proxiedURL(t, integration.DatabaseURL(t), pgProxy),
		envSessionSecret + "=" + s.secret,
	}
	d := startServe(t, env, "--listen", "127.0.0.1:0", "--request-timeout", faultRequestTimeout.String())
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	// A client that gives up long after the daemon should have answered,
	// so that a daemon that does not answer fails the test rather than
	// hanging it.
	client := &http.Client{Timeout: 30 * time.Second}

	tests := []struct {
		name   string
		proxy  *faultproxy.Proxy
		fault  func(*faultproxy.Proxy)
		failed string // the health check that must fail
	}{
		{"PostgresStalls", pgProxy, (*faultproxy.Proxy).Stall, "repository"},
		{"RedisStalls", redisProxy, (*faultproxy.Proxy).Stall, "token_store"},
		{"RedisRefuses", redisProxy, (*faultproxy.Proxy).Refuse, "token_store"},
		{"PostgresRefuses", pgProxy, (*faultproxy.Proxy).Refuse, "repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query := "delegate_to=fault-" + strings.ToLower(tt.name) + "&delegate_scope=read:all"
			tt.fault(tt.proxy)
			status, elapsed := timedGet(t, client, d.base+"/auth/delegate?"+query, parent)
			t.Logf("/auth/delegate: %d after %v", status, elapsed.Round(time.Millisecond))
			if status != http.StatusServiceUnavailable || elapsed > faultRequestTimeout+faultLeeway {
				t.Errorf("/auth/delegate: %d after %v; want 503 within %v", status, elapsed, faultRequestTimeout)
			}
			status, elapsed = timedGet(t, client, d.base+"/healthz", domain.Token{})
			t.Logf("/healthz: %d after %v", status, elapsed.Round(time.Millisecond))
			if status != http.StatusServiceUnavailable || elapsed > faultRequestTimeout+faultLeeway {
				t.Errorf("/healthz: %d after %v; want 503 within %v", status, elapsed, faultRequestTimeout)
			}
			if err := tt.proxy.Heal(); err != nil {
				t.Fatal(err)
			}
			// The work the first request left behind may still be on a
			// stalled connection, which the heal resets: a request that
			// waits for that work shares its failure. The one after it
			// is served.
			healed := time.Now()
			for {
				status, elapsed := timedGet(t, client, d.base+"/auth/delegate?"+query, parent)
				if status == http.StatusOK {
					break
				}
				if time.Since(healed) > faultRequestTimeout+faultLeeway {
					t.Errorf("/auth/delegate once the store answers again: %d after %v, want 200", status, elapsed)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	d.stop(t)
	checkJSONLines(t, d.stderr.String())
	if !strings.Contains(d.stderr.String(), `"msg":"redis driver"`) {
		t.Errorf("go-redis's own complaints about the refused connections are not in the log:\n%s", d.stderr)
	}
}

// startFaultProxy puts a fault proxy in front of the server of rawURL.
func startFaultProxy(t *testing.T, rawURL string) *faultproxy.Proxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// proxiedURL is rawURL pointing at p instead.
func proxiedURL(t *testing.T, rawURL string, p *faultproxy.Proxy) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

// timedGet gets target, with parent as bearer token unless it is zero, and
// returns the status and how long the answer took.
func timedGet(t *testing.T, client *http.Client, target string, parent domain.Token) (int, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if parent != (domain.Token{}) {
		req.Header.Set("Authorization", "Bearer "+parent.String())
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: no answer after %v: %v", req.URL.Path, time.Since(start), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// checkJSONLines fails t for each line of log that is not a JSON object.
func checkJSONLines(t *testing.T, log string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		var rec map[string]any
		if line != "" && json.Unmarshal([]byte(line), &rec) != nil {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}
