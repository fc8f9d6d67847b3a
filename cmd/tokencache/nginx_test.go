package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// The addresses in testdata/nginx.conf, the README's example, which the
// test replaces with its own.
const (
	exampleTokencache = "127.0.0.1:8080"
	exampleApp        = "127.0.0.1:8000"
	exampleListen     = "127.0.0.1:8081"
)

// TestNginxAuthRequest runs the README's nginx example in front of a test
// app, with the daemon in memory, and checks that the app receives the
// delegated token and that a request without a token is refused with
// tokencache's challenge.
func TestNginxAuthRequest(t *testing.T) {
	nginx := findNginx(t)
	d := startServe(t, nil, "--listen", "127.0.0.1:0")
	demo, err := domain.ParseToken(d.stdout.waitFor(t, curlLine)[1])
	if err != nil {
		t.Fatal(err)
	}
	app := newRecordingApp(t)
	listen := startNginx(t, nginx, func(listen string) string {
		return exampleConfig(t, strings.TrimPrefix(d.base, "http://"), app.addr, listen)
	})

	t.Run("delegated token reaches the app", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/some/page", nil)
		req.Header.Set("Authorization", "Bearer "+demo.String())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200 from the app", resp.StatusCode)
		}
		got := app.last()
		child, err := domain.ParseToken(got.Get("X-Delegated-Token"))
		if err != nil {
			t.Fatalf("X-Delegated-Token: %v", err)
		}
		if child == demo {
			t.Error("the app got the parent token, want a delegated one")
		}
		if got.Get("X-Delegated-User") != "demo" {
			t.Errorf("X-Delegated-User = %q, want demo", got.Get("X-Delegated-User"))
		}
		if got.Get("Authorization") != "" {
			t.Error("the app got the user's Authorization header")
		}
		// The daemon hands the same notebook token to a direct request.
		direct := childOf(t, d.delegate(t, http.DefaultClient, demo, "notebook=true"))
		if direct != child {
			t.Error("nginx and a direct request got different notebook tokens")
		}
	})

	t.Run("no token is refused with a challenge", func(t *testing.T) {
		resp, err := http.Get("http://" + listen + "/some/page")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", resp.StatusCode)
		}
		if c := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want tokencache's Bearer challenge", c)
		}
	})
}

// TestReadmeNginxExampleIsTheTestedOne keeps the README's nginx example
// and testdata/nginx.conf the same text.
func TestReadmeNginxExampleIsTheTestedOne(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, found := strings.Cut(string(readme), "```nginx\n")
	if !found {
		t.Fatal("README.md has no ```nginx example")
	}
	block, _, _ = strings.Cut(block, "```")
	example, err := os.ReadFile("testdata/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if block != string(example) {
		t.Error("README.md's nginx example differs from cmd/tokencache/testdata/nginx.conf, which the nginx test runs")
	}
}

// findNginx returns the nginx to run: TOKENCACHE_TEST_NGINX, else nginx on
// PATH or in /usr/sbin. Without one, or without its auth_request module,
// the test is skipped, unless TOKENCACHE_REQUIRE_INTEGRATION=1 and
// TOKENCACHE_TEST_NGINX is set: then it fails.
func findNginx(t *testing.T) string {
	t.Helper()
	explicit := os.Getenv("TOKENCACHE_TEST_NGINX")
	unavailable := func(format string, args ...any) {
		t.Helper()
		if explicit != "" && integration.Required() {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (scripts/test provides nginx)", args...)
	}
	path := explicit
	if path == "" {
		var err error
		if path, err = exec.LookPath("nginx"); err != nil {
			path = "/usr/sbin/nginx"
		}
	}
	out, err := exec.Command(path, "-V").CombinedOutput()
	if err != nil {
		unavailable("nginx not found at %s: %v", path, err)
	}
	if !bytes.Contains(out, []byte("http_auth_request_module")) {
		unavailable("%s lacks the auth_request module", path)
	}
	return path
}

// exampleConfig is the README's example with the test's addresses.
func exampleConfig(t *testing.T, tokencache, app, listen string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, r := range [][2]string{{exampleTokencache, tokencache}, {exampleApp, app}, {exampleListen, listen}} {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("testdata/nginx.conf no longer mentions %s", r[0])
		}
		conf = strings.ReplaceAll(conf, r[0], r[1])
	}
	return conf
}

// startNginx runs nginx with site(listen) on a free loopback address,
// which it returns once nginx accepts connections there. The address is
// only free when chosen: if another process binds it before nginx does,
// nginx is started again on another.
func startNginx(t *testing.T, nginx string, site func(listen string) string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		listen := freeAddr(t)
		output, started := tryNginx(t, nginx, site(listen), listen)
		if started {
			return listen
		}
		if attempt == 3 || !strings.Contains(output, "Address already in use") {
			t.Fatalf("nginx exited at start:\n%s", output)
		}
		t.Logf("nginx could not bind %s, which another process took; trying another port", listen)
	}
}

// tryNginx runs nginx in the foreground with site in a main configuration
// that keeps every file it writes in a temporary directory, and waits until
// it accepts connections on listen. If nginx exits first, it returns
// nginx's output and false.
func tryNginx(t *testing.T, nginx, site, listen string) (output string, started bool) {
	t.Helper()
	dir := t.TempDir()
	// Workers run as the master's user only when that is not root; as
	// root, nginx would switch to "nobody", who may not exist or may not
	// read this directory.
	user := ""
	if os.Getuid() == 0 {
		user = "user root root;"
	}
	mainConf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr warn;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	for name, text := range map[string]string{"nginx.conf": mainConf, "site.conf": site} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	var stderr syncWriter
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful: the workers finish and exit too
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx output:\n%s", stderr.String())
		}
	})

	// nginx writes its pid file once it has bound its addresses. Until
	// then, a connection to listen may reach whoever else took the port.
	pidFile := filepath.Join(dir, "nginx.pid")
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return stderr.String(), false
		default:
		}
		if pid, err := os.ReadFile(pidFile); err == nil && len(pid) > 0 {
			conn, err := net.Dial("tcp", listen)
			if err == nil {
				conn.Close()
				return "", true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not accept connections on %s:\n%s", listen, stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling: nginx announces nothing when ready
	}
}

// recordingApp is the app behind nginx: it answers 200 and remembers the
// headers of the last request.
type recordingApp struct {
	addr    string
	mu      sync.Mutex
	headers http.Header
}

func newRecordingApp(t *testing.T) *recordingApp {
	t.Helper()
	a := &recordingApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.headers = r.Header.Clone()
		a.mu.Unlock()
		_, _ = w.Write([]byte("hello from the app\n"))
	}))
	t.Cleanup(srv.Close)
	a.addr = srv.Listener.Addr().String()
	return a
}

func (a *recordingApp) last() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.headers == nil {
		return http.Header{}
	}
	return a.headers
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a server that cannot be handed a listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncWriter is a buffer that a process's two output streams may share.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
