package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
)

// The checks of a Redis failover under load (Sentinel or Cluster) beside
// those of integration_failover_load_test.go: when requests failed, and
// what the stores hold at the end, given that Redis replicates and
// persists nothing synchronously, so that a failover may lose children
// already handed out, within bounds that each test states.

// lossSettle is how long after a failover's event (the sentinels agreeing
// on a new master, a cluster node killed) the service's Redis client may
// still reach a copy of a child that the failover loses: a request that
// read it just before and shares it with the requests that waited for it.
// It is generous for a busy machine.
const lossSettle = time.Second

// lossBound says which children handed out a failover may have lost from
// Redis.
type lossBound struct {
	began time.Time // when the failover began, for the log
	// mayLose reports whether the child with key, handed out as h says,
	// may have been lost.
	mayLose func(key string, h *handedOut) bool
	// goneBy is when the failover's losses are settled: no request that
	// starts later may hand out a lost child.
	goneBy time.Time
	// max is how many children handed out may be lost; -1 for any number.
	max int
}

// handedOut is a child as the load's answers saw it.
type handedOut struct {
	result    failoverResult // the request that started first of those that got it
	firstEnd  time.Time      // when the first of them ended: the child was in Redis before
	lastStart time.Time      // when the last of them started
}

// handedOutChildren gathers the children handed out, by key.
func handedOutChildren(results []failoverResult) map[string]*handedOut {
	out := map[string]*handedOut{}
	for _, r := range results {
		if r.err != nil {
			continue
		}
		h, ok := out[r.token.Key]
		if !ok {
			h = &handedOut{result: r, firstEnd: r.end}
			out[r.token.Key] = h
		}
		if r.end.Before(h.firstEnd) {
			h.firstEnd = r.end
		}
		if r.start.Before(h.result.start) {
			h.result = r
		}
		if r.start.After(h.lastStart) {
			h.lastStart = r.start
		}
	}
	return out
}

// wantChild is what a child handed out for r must hold: its type,
// service and scopes.
func wantChild(r failoverResult, parents []domain.TokenData) (string, string, []string) {
	if r.fresh() {
		return "internal", r.service, []string{"read:all"}
	}
	k := failoverKinds[r.kind]
	if k.service == "" {
		return "notebook", "", parents[r.parent].Scopes
	}
	return "internal", k.service, k.scopes
}

// checkStoresAfterLoss checks both stores once the load has stopped and
// the service's clean-ups are done:
//
//   - every child handed out is in PostgreSQL, linked to its parent, with
//     the data asked for;
//   - every child handed out is in Redis with that data too, unless the
//     failover may have lost it (bound), and no request that started once
//     the losses were settled handed out a lost child;
//   - every child in Redis has its rows, and every child whose rows are
//     not matched by a Redis entry was handed out and lost as above;
//   - of each child asked for again and again, at most one is in Redis:
//     a second one exists only where the failover lost the first.
//
// It returns how many children handed out were lost.
func checkStoresAfterLoss(t *testing.T, e *realEnv, parents []domain.TokenData, results []failoverResult, bound lossBound) int {
	t.Helper()
	inRedis := redisTokensAnyTopology(t, e)
	rows := childRowsOf(t, e, parents)
	children := handedOutChildren(results)
	problems := 0
	report := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= 10 {
			t.Errorf(format, args...)
		}
	}
	lost := 0
	var lostFrom, lostTo time.Time // when the lost children were first handed out
	for key, h := range children {
		r := h.result
		wantType, wantService, wantScopes := wantChild(r, parents)
		row, ok := rows[key]
		switch {
		case !ok:
			report("child %s handed out for %s has no rows in PostgreSQL", key, r.group())
		case row.parent != parents[r.parent].Token.Key || row.tokenType != wantType || row.service != wantService ||
			row.scopes != strings.Join(wantScopes, ","):
			report("child %s handed out for %s has other rows: %+v", key, r.group(), row)
		}
		stored, ok := inRedis[key]
		switch {
		case !ok:
			lost++
			if lostFrom.IsZero() || h.firstEnd.Before(lostFrom) {
				lostFrom = h.firstEnd
			}
			if h.firstEnd.After(lostTo) {
				lostTo = h.firstEnd
			}
			if !bound.mayLose(key, h) {
				report("child %s handed out for %s (first by a request ending at %s) is not in Redis, and the failover cannot have lost it",
					key, r.group(), h.firstEnd.Format("15:04:05.000"))
			}
			if h.lastStart.After(bound.goneBy) {
				report("child %s, lost from Redis, was handed out for %s by a request that started %v after the losses were settled",
					key, r.group(), h.lastStart.Sub(bound.goneBy).Round(time.Millisecond))
			}
		case stored.Token.Secret != r.token.Secret || stored.Username != parents[r.parent].Username ||
			stored.TokenType != wantType || deref(stored.Service) != wantService || !slices.Equal(stored.Scopes, wantScopes):
			report("child %s handed out for %s has other data in Redis: %s %s %q %v", key, r.group(),
				stored.Username, stored.TokenType, deref(stored.Service), stored.Scopes)
		}
	}
	if bound.max >= 0 && lost > bound.max {
		report("%d children handed out were lost from Redis, want at most %d", lost, bound.max)
	}
	for key, c := range inRedis {
		if _, ok := rows[key]; !ok && c.TokenType != string(domain.TokenTypeSession) {
			report("child %s (%s, %q) is in Redis without its rows in PostgreSQL", key, c.TokenType, deref(c.Service))
		}
	}
	for key, row := range rows {
		if _, ok := inRedis[key]; !ok && children[key] == nil {
			report("child %s (%+v) has rows but is neither in Redis nor handed out", key, row)
		}
	}
	second := 0
	groups := map[childRow][]string{}
	for key, row := range rows {
		if !strings.HasPrefix(row.service, "fo-new-") {
			groups[row] = append(groups[row], key)
		}
	}
	for g, keys := range groups {
		var alive []string
		for _, k := range keys {
			if _, ok := inRedis[k]; ok {
				alive = append(alive, k)
			}
		}
		if len(alive) > 1 {
			report("%d children in Redis for one request (%+v), want 1: %v", len(alive), g, alive)
		}
		second += len(keys) - 1
	}
	if problems > 10 {
		t.Errorf("... and %d more problems", problems-10)
	}
	t.Logf("stores checked: children handed out %d, child rows %d, the test's tokens in Redis %d; children handed out and lost from Redis %d "+
		"(first handed out from %s to %s after the failover began), children made again after a loss %d",
		len(children), len(rows), len(inRedis), lost, since(bound.began, lostFrom), since(bound.began, lostTo), second)
	return lost
}

// redisTokensAnyTopology is redisTokensOf on any topology: on a cluster,
// it scans every master, and reads each key on its own node.
func redisTokensAnyTopology(t *testing.T, e *realEnv) map[string]storedChild {
	t.Helper()
	ctx := context.Background()
	var keys []string
	var keysMu sync.Mutex // ForEachMaster scans the masters at once
	scan := func(ctx context.Context, c goredis.Cmdable) error {
		iter := c.Scan(ctx, 0, "token:*", 1000).Iterator()
		var found []string
		for iter.Next(ctx) {
			found = append(found, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		keysMu.Lock()
		keys = append(keys, found...)
		keysMu.Unlock()
		return nil
	}
	var err error
	if c, ok := e.raw.(*goredis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(ctx, e.raw)
	}
	if err != nil {
		t.Fatalf("scanning redis: %v", err)
	}
	box, err := fernetbox.New(e.cfg.SessionSecret)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storedChild{}
	for batch := range slices.Chunk(keys, 500) {
		cmds, err := e.raw.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range batch {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatalf("reading tokens: %v", err)
		}
		for i, cmd := range cmds {
			value, err := cmd.(*goredis.StringCmd).Bytes()
			if err != nil {
				continue // expired between SCAN and GET
			}
			plain := box.Open(value)
			if plain == nil {
				continue // another test's
			}
			var c storedChild
			if err := json.Unmarshal(plain, &c); err != nil {
				t.Fatalf("token data of %s: %v", batch[i], err)
			}
			out[strings.TrimPrefix(batch[i], "token:")] = c
		}
	}
	return out
}

// checkFailoverPhases checks that no request failed before the failover
// began, and that every request that started recovery after the store
// recovered (tl.recovered) succeeded, and logs a summary of the answers.
func checkFailoverPhases(t *testing.T, results []failoverResult, tl failoverTimeline, recovery time.Duration) {
	t.Helper()
	recovered := tl.recovered()
	var failures, early, late, lateFailed int
	var firstFailed, lastFailed time.Time
	for _, r := range results {
		if r.err != nil {
			failures++
			if firstFailed.IsZero() || r.start.Before(firstFailed) {
				firstFailed = r.start
			}
			if r.end.After(lastFailed) {
				lastFailed = r.end
			}
			if r.end.Before(tl.failing) {
				if early++; early <= 3 {
					t.Errorf("a request for %s failed before the failover: %v", r.group(), r.err)
				}
			}
		}
		if !r.start.Before(recovered.Add(recovery)) {
			if late++; r.err != nil {
				if lateFailed++; lateFailed <= 3 {
					t.Errorf("a request for %s %v after the store recovered failed: %v",
						r.group(), r.start.Sub(recovered).Round(time.Millisecond), r.err)
				}
			}
		}
	}
	t.Logf("%d requests in %v, %d failed: the first starting %s after the failover began, the last ending %s after it began and %s after the store recovered (%v after the failover began); "+
		"%d requests from %v after that (%d failed)",
		len(results), tl.stopping.Sub(tl.began).Round(time.Millisecond), failures, since(tl.failing, firstFailed),
		since(tl.failing, lastFailed), since(recovered, lastFailed), recovered.Sub(tl.failing).Round(time.Millisecond),
		late, recovery, lateFailed)
	if early > 3 || lateFailed > 3 {
		t.Errorf("... %d requests failed before the failover and %d late requests failed, in all", early, lateFailed)
	}
	if late < 10 {
		t.Errorf("only %d requests were made once the service should have recovered, want at least 10", late)
	}
}
