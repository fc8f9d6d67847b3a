package main

import (
	"bytes"
	"encoding/base64"
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

	"github.com/fernet/fernet-go"

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
// app, with the daemon on the real stores, and sends what browsers and
// clients send: Gafaelfawr's session cookie, Basic and Bearer
// authorization, through the notebook, the portal (an internal token behind
// a scope gate) and the plain authentication check.
func TestNginxAuthRequest(t *testing.T) {
	nginx := findNginx(t)
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1/32", "--allow-service", "portal")
	app := newRecordingApp(t)
	listen := startNginx(t, nginx, func(listen string) string {
		return exampleConfig(t, strings.TrimPrefix(d.base, "http://"), app.addr, listen)
	})
	now := time.Now().UTC().Truncate(time.Second)
	parent, user := s.gafaelfawrParent(t, "exec:notebook,read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	imageOnly, _ := s.gafaelfawrParent(t, "read:image", now.Add(-time.Hour), now.Add(24*time.Hour))
	notebookOnly, _ := s.gafaelfawrParent(t, "exec:notebook", now.Add(-time.Hour), now.Add(24*time.Hour))

	get := func(t *testing.T, path string, header http.Header) (*http.Response, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+path, nil)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, app.take()
	}
	wantThrough := func(t *testing.T, resp *http.Response, got http.Header) {
		t.Helper()
		if resp.StatusCode != http.StatusOK || got == nil {
			t.Fatalf("status = %d, want 200 from the app", resp.StatusCode)
		}
		if got.Get("X-Auth-Request-User") != user {
			t.Errorf("X-Auth-Request-User = %q, want %q", got.Get("X-Auth-Request-User"), user)
		}
		if got.Get("X-Auth-Request-Email") != user+"@example.com" {
			t.Errorf("X-Auth-Request-Email = %q, want the parent's email", got.Get("X-Auth-Request-Email"))
		}
	}
	delegated := func(t *testing.T, got http.Header) domain.Token {
		t.Helper()
		child, err := domain.ParseToken(got.Get("X-Auth-Request-Token"))
		if err != nil {
			t.Fatalf("X-Auth-Request-Token: %v", err)
		}
		if child == parent {
			t.Fatal("the app got the parent token, want a delegated one")
		}
		return child
	}

	t.Run("session cookie, notebook, client from X-Forwarded-For", func(t *testing.T) {
		resp, got := get(t, "/notebook/lab", http.Header{
			"Cookie":          {"gafaelfawr=" + gafaelfawrCookie(t, s.secret, parent) + "; theme=dark"},
			"X-Forwarded-For": {"198.51.100.7"},
		})
		wantThrough(t, resp, got)
		child := delegated(t, got)
		checkChild(t, s.rdb, s.db, parent, child, "notebook", "", "exec:notebook,read:all")
		if ip := s.ipAddressOf(t, child); ip != "198.51.100.7" {
			t.Errorf("the child's history records %s, want the client 198.51.100.7 named by nginx", ip)
		}
		if c := got.Get("Cookie"); c != "theme=dark" {
			t.Errorf("the app got Cookie %q, want only the user's own theme=dark", c)
		}
		if a := got.Get("Authorization"); a != "" {
			t.Errorf("the app got Authorization %q, want none", a)
		}
	})

	t.Run("Basic, with the token as user name and as password", func(t *testing.T) {
		var children []domain.Token
		for _, pair := range []string{parent.String() + ":x-oauth-basic", "x-oauth-basic:" + parent.String()} {
			resp, got := get(t, "/portal/query", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(pair))}})
			wantThrough(t, resp, got)
			children = append(children, delegated(t, got))
			if a := got.Get("Authorization"); a != "" {
				t.Errorf("the app got Authorization %q, want none", a)
			}
		}
		if children[0] != children[1] {
			t.Error("the two placements got different internal tokens, want one")
		}
		checkChild(t, s.rdb, s.db, parent, children[0], "internal", "portal", "read:all")
	})

	t.Run("credentials of the app's own pass through", func(t *testing.T) {
		resp, got := get(t, "/notebook/lab", http.Header{
			"Cookie":        {"gafaelfawr=" + gafaelfawrCookie(t, s.secret, parent)},
			"Authorization": {"Basic dXNlcjpwYXNz"},
		})
		wantThrough(t, resp, got)
		if a := got.Get("Authorization"); a != "Basic dXNlcjpwYXNz" {
			t.Errorf("the app got Authorization %q, want the user's own Basic credentials", a)
		}
		if c := got.Get("Cookie"); c != "" {
			t.Errorf("the app got Cookie %q, want none", c)
		}
	})

	t.Run("plain check with a bearer token", func(t *testing.T) {
		resp, got := get(t, "/docs/index.html", http.Header{"Authorization": {"Bearer " + parent.String()}})
		wantThrough(t, resp, got)
		if tok := got.Get("X-Auth-Request-Token"); tok != "" {
			t.Error("the plain check handed out a delegated token")
		}
		if a := got.Get("Authorization"); a != "" {
			t.Errorf("the app got Authorization %q, want none", a)
		}
	})

	t.Run("scope gates", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			parent domain.Token
			want   int
		}{
			{"/portal/query", imageOnly, http.StatusForbidden},       // lacks read:all
			{"/docs/index.html", imageOnly, http.StatusOK},           // satisfy=any: read:image will do
			{"/docs/index.html", notebookOnly, http.StatusForbidden}, // neither scope
		} {
			resp, _ := get(t, c.path, http.Header{"Authorization": {"Bearer " + c.parent.String()}})
			if resp.StatusCode != c.want {
				t.Errorf("%s: status = %d, want %d", c.path, resp.StatusCode, c.want)
			}
		}
		if n := s.children(t, imageOnly, "internal", "portal"); n != 0 {
			t.Errorf("a parent refused at the gate got %d internal tokens, want none", n)
		}
	})

	t.Run("no credentials are refused with a challenge", func(t *testing.T) {
		resp, _ := get(t, "/notebook/lab", http.Header{})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", resp.StatusCode)
		}
		if c := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want tokencache's Bearer challenge", c)
		}
	})
}

// gafaelfawrCookie is the value of the gafaelfawr cookie that Gafaelfawr
// sets at login for token: its state, as JSON, sealed with the session
// secret.
func gafaelfawrCookie(t *testing.T, secret string, token domain.Token) string {
	t.Helper()
	state := fmt.Sprintf(`{"csrf":"OmNdVTtKKuK_VuJsGFdrqg","token":%q}`, token.String())
	sealed, err := fernet.EncryptAndSign([]byte(state), fernet.MustDecodeKeys(secret)[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(sealed)
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
	integration.DieWithTest(cmd)
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

// take returns the headers of the last request and forgets them, or nil
// if no request came since the last take.
func (a *recordingApp) take() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.headers
	a.headers = nil
	return h
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
