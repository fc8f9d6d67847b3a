package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
)

// Bounded concurrent traffic through the service while a store fails, and
// the checks that hold whatever the failure: an error is a store failure
// (a 503 from the daemon) and comes without a token, every token handed out
// is in both stores, no child is left in Redis without its rows, and no
// request makes a second child where one would do.

// failoverKind is a request for a child that the load asks for again and
// again, so that most requests reuse it.
type failoverKind struct {
	service string // "" for a notebook token
	scopes  []string
}

// failoverKinds are a notebook token and internal tokens for two services
// with two scope sets each.
var failoverKinds = []failoverKind{
	{"", nil},
	{"fo-portal", []string{"read:all"}},
	{"fo-portal", []string{"read:all", "read:tap"}},
	{"fo-tap", []string{"read:all"}},
	{"fo-tap", []string{"read:all", "read:tap"}},
}

const (
	// failoverFreshEvery makes one request in that many ask for a child
	// of a service of its own, which must be created.
	failoverFreshEvery = 4
	// failoverRequestTimeout bounds each request, as the daemon's request
	// timeout would.
	failoverRequestTimeout = 5 * time.Second
	// failoverPause is how long a worker waits after a failure, so that a
	// store that is down is not asked thousands of times a second.
	failoverPause = 10 * time.Millisecond
	// failoverMaxRequests bounds the load whatever the machine's speed.
	failoverMaxRequests = 40_000
)

// failoverResult is one request and how it ended.
type failoverResult struct {
	parent     int
	kind       int    // index in failoverKinds, or -1 for a fresh child
	service    string // the fresh child's service
	start, end time.Time
	token      domain.Token
	err        error
}

// fresh reports whether the request asked for a child nobody asked for
// before, which only a creation can give.
func (r failoverResult) fresh() bool { return r.kind < 0 }

// group names the child that a request asks for.
func (r failoverResult) group() string {
	if r.fresh() {
		return fmt.Sprintf("%d/%s", r.parent, r.service)
	}
	return fmt.Sprintf("%d/#%d", r.parent, r.kind)
}

// failoverLoad is the traffic: workers that each ask, in a loop, for a
// child of a parent drawn at random.
type failoverLoad struct {
	e       *realEnv
	parents []domain.TokenData
	workers int

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	sent     sync.Mutex // guards count
	count    int
	results  [][]failoverResult // by worker, each written by its worker only
}

func newFailoverLoad(e *realEnv, parents []domain.TokenData, workers int) *failoverLoad {
	return &failoverLoad{e: e, parents: parents, workers: workers,
		stop: make(chan struct{}), results: make([][]failoverResult, workers)}
}

// start starts the workers; stopLoad ends them.
func (l *failoverLoad) start() {
	for w := range l.workers {
		l.wg.Go(func() { l.results[w] = l.work(w) })
	}
}

// stopLoad ends the load and waits for the requests in flight.
func (l *failoverLoad) stopLoad() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// take counts one more request, or reports that the budget is spent.
func (l *failoverLoad) take() bool {
	l.sent.Lock()
	defer l.sent.Unlock()
	l.count++
	return l.count <= failoverMaxRequests
}

func (l *failoverLoad) work(w int) []failoverResult {
	rng := rand.New(rand.NewPCG(uint64(w), 10))
	var out []failoverResult
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return out
		default:
		}
		if !l.take() {
			return out
		}
		r := failoverResult{parent: rng.IntN(len(l.parents)), kind: rng.IntN(len(failoverKinds))}
		if i%failoverFreshEvery == 0 {
			r.kind, r.service = -1, fmt.Sprintf("fo-new-%d-%d", w, i)
		}
		l.do(&r)
		out = append(out, r)
		if r.err != nil {
			select {
			case <-l.stop:
			case <-time.After(failoverPause):
			}
		}
	}
}

// do sends r's request and records how it ended.
func (l *failoverLoad) do(r *failoverResult) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverRequestTimeout)
	defer cancel()
	p := l.parents[r.parent]
	r.start = time.Now()
	switch {
	case r.fresh():
		r.token, r.err = l.e.svc.GetInternalToken(ctx, p, r.service, []string{"read:all"}, "192.0.2.9", 0)
	case failoverKinds[r.kind].service == "":
		r.token, r.err = l.e.svc.GetNotebookToken(ctx, p, "192.0.2.9", 0)
	default:
		k := failoverKinds[r.kind]
		r.token, r.err = l.e.svc.GetInternalToken(ctx, p, k.service, k.scopes, "192.0.2.9", 0)
	}
	r.end = time.Now()
}

// all returns every result, in no particular order. Call it after
// stopLoad.
func (l *failoverLoad) all() []failoverResult {
	var out []failoverResult
	for _, rs := range l.results {
		out = append(out, rs...)
	}
	return out
}

// storeFailure reports whether err is what the daemon answers with 503:
// none of the domain's errors, which are the caller's (README: "any other
// error is a store failure"; httpapi maps those, timeouts included, to
// 503).
func storeFailure(err error) bool {
	for _, sentinel := range []error{domain.ErrInvalidRequest, domain.ErrInvalidToken,
		domain.ErrPermissionDenied, domain.ErrInsufficientLifetime, domain.ErrTooManyChildren} {
		if errors.Is(err, sentinel) {
			return false
		}
	}
	return err != nil
}

// checkAnswers fails t for an error that is not a store failure or that
// came with a token.
func checkAnswers(t *testing.T, results []failoverResult) {
	t.Helper()
	bad := 0
	for _, r := range results {
		if r.err == nil {
			continue
		}
		if !storeFailure(r.err) || r.token != (domain.Token{}) {
			if bad++; bad <= 5 {
				t.Errorf("request for %s failed with %v and token %q: want a store failure (503) and no token",
					r.group(), r.err, r.token.Key)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more such errors", bad-5)
	}
}

// storedChild is what the checks read of a child's Redis entry.
type storedChild struct {
	Username  string   `json:"username"`
	TokenType string   `json:"token_type"`
	Service   *string  `json:"service"`
	Scopes    []string `json:"scopes"`
	Token     struct {
		Key    string `json:"key"`
		Secret string `json:"secret"`
	} `json:"token"`
}

// redisTokensOf scans Redis for every token that the session secret can
// open: with a secret of the test's own, the test's tokens and no others.
func redisTokensOf(t *testing.T, e *realEnv) map[string]storedChild {
	t.Helper()
	ctx := context.Background()
	box, err := fernetbox.New(e.cfg.SessionSecret)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storedChild{}
	batch := make([]string, 0, 500)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		values, err := e.raw.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			s, ok := v.(string)
			if !ok {
				continue // expired between SCAN and MGET
			}
			plain := box.Open([]byte(s))
			if plain == nil {
				continue // another test's
			}
			var c storedChild
			if err := json.Unmarshal(plain, &c); err != nil {
				t.Fatalf("token data of %s: %v", batch[i], err)
			}
			out[strings.TrimPrefix(batch[i], "token:")] = c
		}
		batch = batch[:0]
	}
	iter := e.raw.Scan(ctx, 0, "token:*", 1000).Iterator()
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return out
}

// childRow is a child's token row and the parent its subtoken row names.
type childRow struct {
	parent, tokenType, service, scopes string
}

// childRowsOf reads the rows of every child of parents.
func childRowsOf(t *testing.T, e *realEnv, parents []domain.TokenData) map[string]childRow {
	t.Helper()
	keys := make([]string, len(parents))
	for i, p := range parents {
		keys[i] = p.Token.Key
	}
	rows, err := e.db.QueryContext(context.Background(), `SELECT t.token, s.parent, t.token_type, coalesce(t.service, ''), t.scopes
		FROM token t JOIN subtoken s ON s.child = t.token WHERE s.parent = ANY($1)`, pq.Array(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]childRow{}
	for rows.Next() {
		var key string
		var r childRow
		if err := rows.Scan(&key, &r.parent, &r.tokenType, &r.service, &r.scopes); err != nil {
			t.Fatal(err)
		}
		out[key] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStores checks both stores, once the load has stopped and the
// service's clean-ups are done: every token handed out is in Redis with
// the data asked for and in PostgreSQL linked to its parent; every child
// in Redis has its rows; each child asked for again and again exists once.
func checkStores(t *testing.T, e *realEnv, parents []domain.TokenData, results []failoverResult) {
	t.Helper()
	inRedis := redisTokensOf(t, e)
	rows := childRowsOf(t, e, parents)
	problems := 0
	report := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= 10 {
			t.Errorf(format, args...)
		}
	}
	checked := map[domain.Token]bool{}
	for _, r := range results {
		if r.err != nil || checked[r.token] {
			continue
		}
		checked[r.token] = true
		wantType, wantService, wantScopes := "internal", r.service, []string{"read:all"}
		if !r.fresh() {
			k := failoverKinds[r.kind]
			wantService, wantScopes = k.service, k.scopes
			if k.service == "" {
				wantType, wantScopes = "notebook", parents[r.parent].Scopes
			}
		}
		stored, ok := inRedis[r.token.Key]
		switch {
		case !ok:
			report("child %s handed out for %s is not in Redis", r.token.Key, r.group())
		case stored.Token.Secret != r.token.Secret || stored.Username != parents[r.parent].Username ||
			stored.TokenType != wantType || deref(stored.Service) != wantService || !slices.Equal(stored.Scopes, wantScopes):
			report("child %s handed out for %s has other data in Redis: %s %s %q %v", r.token.Key, r.group(),
				stored.Username, stored.TokenType, deref(stored.Service), stored.Scopes)
		}
		row, ok := rows[r.token.Key]
		switch {
		case !ok:
			report("child %s handed out for %s has no rows in PostgreSQL", r.token.Key, r.group())
		case row.parent != parents[r.parent].Token.Key || row.tokenType != wantType || row.service != wantService ||
			row.scopes != strings.Join(wantScopes, ","):
			report("child %s handed out for %s has other rows: %+v", r.token.Key, r.group(), row)
		}
	}
	for key, c := range inRedis {
		if _, ok := rows[key]; !ok && c.TokenType != string(domain.TokenTypeSession) {
			report("child %s (%s, %q) is in Redis without its rows in PostgreSQL", key, c.TokenType, deref(c.Service))
		}
	}
	groups := map[childRow][]string{}
	for key, r := range rows {
		if !strings.HasPrefix(r.service, "fo-new-") {
			groups[r] = append(groups[r], key)
		}
	}
	for g, keys := range groups {
		if len(keys) > 1 {
			report("%d children for one request (%+v), want 1: %v", len(keys), g, keys)
		}
	}
	if problems > 10 {
		t.Errorf("... and %d more problems", problems-10)
	}
	t.Logf("stores checked: %d children handed out, %d child rows, %d of the test's tokens in Redis",
		len(checked), len(rows), len(inRedis))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// removeRedisTokensOf deletes every token of the test's from Redis,
// children its rows do not list included.
func removeRedisTokensOf(t *testing.T, e *realEnv) {
	t.Helper()
	for key := range redisTokensOf(t, e) {
		_ = e.raw.Del(context.Background(), "token:"+key).Err()
	}
}
