package main

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
)

// soakParentScopes are every soak parent's scopes, sorted as a notebook
// child's row holds them.
const soakParentScopes = "exec:notebook,read:all,read:tap"

// soakKind is one kind of request and the child row it must yield.
type soakKind struct {
	query     string
	tokenType string
	service   string
	scopes    string // sorted, comma-joined
}

// soakKinds are a notebook token and internal tokens for three services
// with three scope sets each; one set asks for a scope the parents lack,
// which the child does not get.
var soakKinds = func() []soakKind {
	kinds := []soakKind{{query: "notebook=true", tokenType: "notebook", scopes: soakParentScopes}}
	for _, service := range []string{"soak-portal", "soak-tap", "soak-cutout"} {
		for _, scopes := range [][2]string{
			{"read:all", "read:all"},
			{"read:tap&delegate_scope=read:all", "read:all,read:tap"},
			{"read:tap&delegate_scope=admin:token", "read:tap"},
		} {
			kinds = append(kinds, soakKind{
				query:     "delegate_to=" + service + "&delegate_scope=" + scopes[0],
				tokenType: "internal", service: service, scopes: scopes[1],
			})
		}
	}
	return kinds
}()

// soakParent is a user token written as Gafaelfawr writes it.
type soakParent struct {
	token domain.Token
	user  string
}

func mintSoakParents(t *testing.T, s *realStores, n int) []soakParent {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	parents := make([]soakParent, n)
	for i := range parents {
		parents[i].token, parents[i].user = s.gafaelfawrParent(t, soakParentScopes, now.Add(-time.Hour), now.Add(24*time.Hour))
	}
	return parents
}

// soakResult is one request and its answer.
type soakResult struct {
	daemon, parent, kind int
	start, end           time.Time
	status               int
	child                string // key of the child handed out, if any
	err                  error  // no answer, or an unreadable child
}

// revocation is when the deletion of a key from Redis was sent and when
// Redis acknowledged it.
type revocation struct{ issued, acked time.Time }

// soakRun is the load, the revocations and the outage, and what they
// recorded.
type soakRun struct {
	cfg     soakConfig
	stores  *realStores
	parents []soakParent
	daemons []*daemon
	client  *http.Client
	revoker *goredis.Client // a plain client of its own, as Gafaelfawr's

	began      time.Time     // when the load started
	sent       atomic.Int64  // requests taken from the budget
	done       atomic.Int64  // answers recorded
	tick       chan struct{} // asks the revoker for a revocation
	half, full chan struct{} // closed at half and all of the budget
	stop       chan struct{} // closed to end the load
	stopOnce   sync.Once
	wg         sync.WaitGroup

	// storeMu is held while Redis is down, and by each revocation, so that
	// no revocation fails half-way and leaves its effect unknown.
	storeMu       sync.Mutex
	killAt, upAt  time.Time // the outage, set under storeMu
	harnessErrors []error   // the revoker's own failures

	mu            sync.Mutex
	results       [][]soakResult // by worker, each appended by its worker only
	handed        map[string]soakResult
	handedKeys    []string
	childRevoked  map[string]revocation
	parentRevoked map[int]revocation
	duplicates    map[soakGroup]soakDuplicate
	checkpoints   int
}

// soakRevokeEvery is how many answers come between two revocations, and
// soakParentEvery how many revocations between two of a parent.
const (
	soakRevokeEvery = 20
	soakParentEvery = 10
)

func newSoakRun(cfg soakConfig, s *realStores, parents []soakParent, daemons []*daemon, revoker *goredis.Client) *soakRun {
	return &soakRun{
		cfg: cfg, stores: s, parents: parents, daemons: daemons, revoker: revoker,
		client: &http.Client{
			Timeout:   soakClientTimeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.workers},
		},
		tick: make(chan struct{}, 1), half: make(chan struct{}), full: make(chan struct{}),
		stop:          make(chan struct{}),
		results:       make([][]soakResult, cfg.workers),
		handed:        map[string]soakResult{},
		childRevoked:  map[string]revocation{},
		parentRevoked: map[int]revocation{},
		duplicates:    map[soakGroup]soakDuplicate{},
	}
}

// startLoad starts the workers and the revoker.
func (r *soakRun) startLoad() {
	r.began = time.Now()
	for w := range r.cfg.workers {
		r.wg.Go(func() { r.results[w] = r.work(w) })
	}
	r.wg.Go(r.revokeLoop)
}

// stopLoad ends the load and waits for the requests in flight to be
// answered (at most soakClientTimeout).
func (r *soakRun) stopLoad() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.client.CloseIdleConnections()
}

// work sends requests until the load stops or the budget is spent, each to
// the next daemon in turn, for a parent and a kind drawn at random.
func (r *soakRun) work(w int) []soakResult {
	rng := rand.New(rand.NewPCG(uint64(w), 8))
	var out []soakResult
	for i := 0; ; i++ {
		select {
		case <-r.stop:
			return out
		default:
		}
		if r.sent.Add(1) > r.cfg.maxRequests {
			return out
		}
		res := soakResult{daemon: (w + i) % len(r.daemons), parent: rng.IntN(len(r.parents)), kind: rng.IntN(len(soakKinds))}
		r.do(&res)
		out = append(out, res)
		if res.child != "" {
			r.handOut(res)
		}
		switch n := r.done.Add(1); {
		case n == r.cfg.maxRequests/2:
			close(r.half)
		case n == r.cfg.maxRequests:
			close(r.full)
		case n%soakRevokeEvery == 0:
			select {
			case r.tick <- struct{}{}:
			default: // the revoker is busy: this one is skipped
			}
		}
	}
}

// do sends res's request and records the answer.
func (r *soakRun) do(res *soakResult) {
	req, err := http.NewRequest(http.MethodGet, r.daemons[res.daemon].base+"/auth/delegate?"+soakKinds[res.kind].query, nil)
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
	if h := resp.Header.Get("X-Auth-Request-Token"); h != "" {
		child, err := domain.ParseToken(h)
		if err != nil {
			res.err = err
			return
		}
		res.child = child.Key
	}
}

// handOut remembers the first request that got each child, for the
// revoker to choose from.
func (r *soakRun) handOut(res soakResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handed[res.child]; !ok {
		r.handed[res.child] = res
		r.handedKeys = append(r.handedKeys, res.child)
	}
}
