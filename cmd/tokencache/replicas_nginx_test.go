package main

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestReplicasBehindNginx runs three daemons on the shared stores behind
// one nginx upstream (testdata/nginx-replicas.conf, round robin), under
// bounded concurrent load from many parents through nginx's auth_request,
// and kills one daemon with SIGKILL half-way. It checks:
//
//   - every client request is answered 200 with a delegated token of its
//     parent's: nginx sends a request that the killed daemon failed to
//     another daemon, so the clients see no error at all;
//   - the only failures nginx met (in its log of auth subrequests) were at
//     the killed daemon, after the kill, and it met at least one;
//   - the other two daemons keep answering after the kill, and are healthy
//     at the end;
//   - exactly one child per (parent, kind, service, scopes) exists in
//     PostgreSQL, it is in Redis, and every request for it got it;
//   - children in Redis without their rows are at most the creations the
//     killed daemon may have had in flight, whose clean-up died with it;
//   - every line each daemon wrote to standard error is JSON.
//
// Parents are brought into the load a few at a time, so that children are
// still being created, by several daemons at once, when the kill comes.
func TestReplicasBehindNginx(t *testing.T) {
	nginx := findNginx(t)
	s := newRealStores(t)
	daemons := make([]*daemon, replicaCount)
	addrs := make([]string, replicaCount)
	for i := range daemons {
		daemons[i] = startServe(t, s.env, "--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1/32",
			"--request-timeout", replicaRequestTimeout.String())
		addrs[i] = strings.TrimPrefix(daemons[i].base, "http://")
	}
	app := newTokenEchoApp(t)
	accessLog := filepath.Join(t.TempDir(), "tokencache-auth.log")
	listen := startNginx(t, nginx, func(listen string) string {
		return replicasConfig(t, addrs, app, listen, accessLog)
	})
	now := time.Now().UTC().Truncate(time.Second)
	parents := make([]soakParent, replicaParents)
	for i := range parents {
		parents[i].token, parents[i].user = s.gafaelfawrParent(t, soakParentScopes, now.Add(-time.Minute), now.Add(time.Hour))
	}
	t.Cleanup(func() { removeTokensOf(t, s) })

	run := newReplicaRun("http://"+listen, parents)
	run.start()
	t.Cleanup(run.stopLoad)      // before the daemons and nginx are stopped
	time.Sleep(replicaKillAfter) // the load runs meanwhile: nothing to wait for
	killed := daemons[0]
	run.killAt = time.Now()
	if err := killed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-killed.exited
	run.killedAt = time.Now()
	time.Sleep(replicaLoad - replicaKillAfter)
	run.stopLoad()

	results := run.all()
	checkReplicaAnswers(t, run, results)
	answered := 0
	for _, res := range results {
		if res.err == nil {
			answered++
		}
	}
	attempts := readAuthLog(t, accessLog, answered)
	checkNginxAttempts(t, run, attempts, addrs[0], addrs[1:])
	for i, d := range daemons[1:] {
		if err := healthy(d); err != nil {
			t.Errorf("daemon %d after the load: %v", i+1, err)
		}
		d.stop(t) // nothing more is written to the stores
	}
	checkOneChildEach(t, s, parents, results)
	for _, d := range daemons { // the killed one's lines too
		checkJSONLines(t, d.stderr.String())
	}
}

// Dimensions of the test.
const (
	replicaCount          = 3
	replicaParents        = 40
	replicaWorkers        = 16
	replicaLoad           = 8 * time.Second // the whole load
	replicaKillAfter      = 3 * time.Second // into the load
	replicaRequestTimeout = 5 * time.Second
	replicaMaxRequests    = 40_000
	// replicaFirstParents are in the load from the start; the others join
	// evenly over it.
	replicaFirstParents = 4
)

// replicaKind is what one of the config's app locations asks tokencache
// for, and the child's row it must yield.
type replicaKind struct {
	path      string
	tokenType string
	service   string
	scopes    string // sorted, comma-joined
}

// replicaKinds are the app locations of testdata/nginx-replicas.conf.
var replicaKinds = []replicaKind{
	{"/notebook/lab", "notebook", "", soakParentScopes},
	{"/portal/query", "internal", "portal", "read:all"},
	{"/tap/sync", "internal", "tap", "read:all,read:tap"},
	{"/cutout/image", "internal", "cutout", "read:tap"},
}

// replicaResult is one client request through nginx and its answer.
type replicaResult struct {
	parent, kind int
	start, end   time.Time
	status       int
	token        string // the delegated token the app received, if any
	user         string // the user the app was told of
	err          error  // no answer from nginx
}

// replicaRun is the load: workers that each send, in a loop, a request of
// a kind and a parent drawn at random.
type replicaRun struct {
	base     string
	parents  []soakParent
	client   *http.Client
	began    time.Time
	killAt   time.Time // SIGKILL sent
	killedAt time.Time // the process gone

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	sent     int
	results  [][]replicaResult // by worker, each written by its worker only
}

func newReplicaRun(base string, parents []soakParent) *replicaRun {
	return &replicaRun{
		base: base, parents: parents,
		client: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: replicaWorkers}},
		stop: make(chan struct{}), results: make([][]replicaResult, replicaWorkers),
	}
}

func (r *replicaRun) start() {
	r.began = time.Now()
	for w := range replicaWorkers {
		r.wg.Go(func() { r.results[w] = r.work(w) })
	}
}

// stopLoad ends the load and waits for the requests in flight.
func (r *replicaRun) stopLoad() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.client.CloseIdleConnections()
}

func (r *replicaRun) all() []replicaResult {
	var out []replicaResult
	for _, rs := range r.results {
		out = append(out, rs...)
	}
	return out
}

// activeParents is how many parents are in the load by now.
func (r *replicaRun) activeParents() int {
	joined := float64(len(r.parents)-replicaFirstParents) * time.Since(r.began).Seconds() / replicaLoad.Seconds()
	return min(len(r.parents), replicaFirstParents+int(joined))
}

func (r *replicaRun) work(w int) []replicaResult {
	rng := rand.New(rand.NewPCG(uint64(w), 11))
	var out []replicaResult
	for {
		select {
		case <-r.stop:
			return out
		default:
		}
		r.mu.Lock()
		r.sent++
		spent := r.sent > replicaMaxRequests
		r.mu.Unlock()
		if spent {
			return out
		}
		res := replicaResult{parent: rng.IntN(r.activeParents()), kind: rng.IntN(len(replicaKinds))}
		r.do(&res)
		out = append(out, res)
	}
}

// do sends res's request to nginx and records the answer.
func (r *replicaRun) do(res *replicaResult) {
	req, err := http.NewRequest(http.MethodGet, r.base+replicaKinds[res.kind].path, nil)
	if err != nil {
		res.err = err
		return
	}
	req.Header.Set("Authorization", "Bearer "+r.parents[res.parent].token.String())
	res.start = time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		res.end, res.err = time.Now(), err
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.end, res.status = time.Now(), resp.StatusCode
	res.token, res.user = resp.Header.Get(echoedToken), resp.Header.Get(echoedUser)
}

// checkReplicaAnswers fails t for every request not answered 200 with a
// delegated token of its parent's user.
func checkReplicaAnswers(t *testing.T, r *replicaRun, results []replicaResult) {
	t.Helper()
	bad, afterKill := 0, 0
	for _, res := range results {
		if res.start.After(r.killedAt) {
			afterKill++
		}
		var problem string
		switch {
		case res.err != nil:
			problem = res.err.Error()
		case res.status != http.StatusOK:
			problem = http.StatusText(res.status)
		case res.user != r.parents[res.parent].user:
			problem = "the app was told of user " + res.user
		default:
			if _, err := domain.ParseToken(res.token); err != nil {
				problem = "the app got no delegated token: " + err.Error()
			}
		}
		if problem == "" {
			continue
		}
		if bad++; bad <= 10 {
			t.Errorf("%s for parent %d, %v after the kill: %s", replicaKinds[res.kind].path, res.parent,
				res.end.Sub(r.killAt).Round(time.Millisecond), problem)
		}
	}
	if bad > 10 {
		t.Errorf("... %d such answers in all", bad)
	}
	t.Logf("%d requests through nginx in %v, %d started after the kill (%v into the load); %d not answered 200 with a token",
		len(results), replicaLoad, afterKill, r.killAt.Sub(r.began).Round(time.Millisecond), bad)
	if afterKill < 100 {
		t.Errorf("only %d requests after the kill, want at least 100 to show the other daemons answering", afterKill)
	}
}

// Headers in which the app echoes what nginx told it.
const (
	echoedToken = "X-Echoed-Token"
	echoedUser  = "X-Echoed-User"
)

// newTokenEchoApp is the app behind nginx: it answers 200 with the
// delegated token and the user that nginx passed it, in headers.
func newTokenEchoApp(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(echoedToken, r.Header.Get("X-Auth-Request-Token"))
		w.Header().Set(echoedUser, r.Header.Get("X-Auth-Request-User"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// The addresses in testdata/nginx-replicas.conf, which the test replaces
// with its own.
var (
	exampleReplicas = []string{"127.0.0.1:8080", "127.0.0.1:8082", "127.0.0.1:8083"}
	exampleAuthLog  = "/var/log/nginx/tokencache-auth.log"
)

// replicasConfig is testdata/nginx-replicas.conf with the test's replicas,
// app, listening address and access log (the app's and the listening
// address are those of the single-replica example).
func replicasConfig(t *testing.T, replicas []string, app, listen, accessLog string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/nginx-replicas.conf")
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for i, example := range exampleReplicas {
		pairs = append(pairs, example, replicas[i])
	}
	pairs = append(pairs, exampleApp, app, exampleListen, listen, exampleAuthLog, accessLog)
	conf := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(conf, pairs[i]) {
			t.Fatalf("testdata/nginx-replicas.conf no longer mentions %s", pairs[i])
		}
	}
	// In one pass, so that an address put in is never replaced again.
	return strings.NewReplacer(pairs...).Replace(conf)
}
