package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// soakVerdict is what a soak run counted and every way it went wrong.
type soakVerdict struct {
	requests, ok, unavailable, unauthorized, other int
	children, childRevocations, parentRevocations  int
	checkpoints                                    int

	duplicates       []string
	orphans          []string
	revokedHandedOut []string
	badAnswers       []string // a status the moment does not allow, no answer, or a late one
	wrongChildren    []string // a child not of the parent and kind asked for
	unrecovered      []string
	harness          []error

	window          time.Duration // how long after its acknowledgement what was revoked may be handed out
	servedRevoked   time.Duration // latest start, after its acknowledgement, of a request handed what was revoked (within the window)
	outage          time.Duration // Redis down, from the kill until it answered
	lastUnavailable time.Duration // last 503 to a request started after Redis answered, from then
	recovered       time.Duration // slowest daemon's first 200 after Redis answered, from then
}

// verify checks the records and both stores. The load (so the records
// need no lock) and the daemons have stopped.
func (r *soakRun) verify(t *testing.T) *soakVerdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*soakStoreTimeout)
	defer cancel()
	v := &soakVerdict{harness: r.harnessErrors, outage: r.upAt.Sub(r.killAt), window: r.cfg.revocationWindow()}
	if err := r.checkpoint(); err != nil {
		v.harness = append(v.harness, err)
	}
	v.checkpoints = r.checkpoints
	children, err := r.children(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v.children = len(children)
	if v.orphans, err = r.orphans(ctx, children); err != nil {
		t.Fatal(err)
	}
	for g, d := range r.duplicates {
		v.duplicates = append(v.duplicates, fmt.Sprintf("parent %s, %s, service %q, scopes %q: %d live children %v after %d revoked",
			g.parent, g.tokenType, g.service, g.scopes, len(d.live), d.live, d.revoked))
	}
	v.parentRevocations = len(r.parentRevoked)
	v.childRevocations = len(r.childRevoked)

	groups := make(map[string]soakGroup, len(children))
	for _, c := range children {
		groups[c.key] = c.group
	}
	firstOK := make([]time.Time, len(r.daemons))
	for _, results := range r.results {
		for _, res := range results {
			v.judge(r, res, groups)
			if res.start.After(r.upAt) {
				switch {
				case res.status == http.StatusServiceUnavailable:
					v.lastUnavailable = max(v.lastUnavailable, res.start.Sub(r.upAt))
				case res.status == http.StatusOK && (firstOK[res.daemon].IsZero() || res.start.Before(firstOK[res.daemon])):
					firstOK[res.daemon] = res.start
				}
			}
		}
	}
	if v.unavailable == 0 {
		v.harness = append(v.harness, fmt.Errorf("no request got a 503 while Redis was down for %s: the outage was not exercised", v.outage))
	}
	for i, at := range firstOK {
		if at.IsZero() || at.Sub(r.upAt) > recoveryGrace {
			v.unrecovered = append(v.unrecovered, fmt.Sprintf("daemon %d answered no 200 within %s after Redis was back", i, recoveryGrace))
		} else {
			v.recovered = max(v.recovered, at.Sub(r.upAt))
		}
	}
	return v
}

// judge counts one answer and records what is wrong with it.
func (v *soakVerdict) judge(r *soakRun, res soakResult, groups map[string]soakGroup) {
	v.requests++
	parentRev, parentRevoked := r.parentRevoked[res.parent]
	kind := soakKinds[res.kind]
	describe := func(what string) string {
		return fmt.Sprintf("%s (daemon %d, parent %d, %s, started at %s, took %s; Redis was down from %s to %s)",
			what, res.daemon, res.parent, kind.query, r.since(res.start), res.end.Sub(res.start).Round(time.Millisecond),
			r.since(r.killAt), r.since(r.upAt))
	}
	if res.err != nil {
		v.badAnswers = append(v.badAnswers, describe(fmt.Sprintf("no answer: %v", res.err)))
		return
	}
	if took := res.end.Sub(res.start); took > soakRequestTimeout+soakLateBy {
		v.badAnswers = append(v.badAnswers, describe(fmt.Sprintf("answered late, after %s", took.Round(time.Millisecond))))
	}
	switch res.status {
	case http.StatusOK:
		v.ok++
		v.judgeChild(r, res, groups, describe)
		if parentRevoked && v.lateForRevoked(r, res, parentRev) {
			v.revokedHandedOut = append(v.revokedHandedOut, describe(fmt.Sprintf("200 for a parent revoked %s before",
				res.start.Sub(parentRev.acked).Round(time.Millisecond))))
		}
	case http.StatusUnauthorized:
		v.unauthorized++
		if !parentRevoked || !parentRev.issued.Before(res.end) {
			v.badAnswers = append(v.badAnswers, describe("401 for a parent not revoked"))
		}
	case http.StatusServiceUnavailable:
		v.unavailable++
		if res.end.Before(r.killAt) || res.start.After(r.upAt.Add(recoveryGrace)) {
			v.badAnswers = append(v.badAnswers, describe("503 while Redis was up"))
		}
	default:
		v.other++
		v.badAnswers = append(v.badAnswers, describe(fmt.Sprintf("status %d", res.status)))
	}
}

// judgeChild checks the child of a 200: one of the kind and parent asked
// for, and not revoked before the request began.
func (v *soakVerdict) judgeChild(r *soakRun, res soakResult, groups map[string]soakGroup, describe func(string) string) {
	if res.child == "" {
		v.badAnswers = append(v.badAnswers, describe("200 without a child"))
		return
	}
	kind := soakKinds[res.kind]
	want := soakGroup{parent: r.parents[res.parent].token.Key, tokenType: kind.tokenType, service: kind.service, scopes: kind.scopes}
	if got, ok := groups[res.child]; !ok {
		v.wrongChildren = append(v.wrongChildren, describe(fmt.Sprintf("child %s handed out has no rows", res.child)))
	} else if got != want {
		v.wrongChildren = append(v.wrongChildren, describe(fmt.Sprintf("child %s is %+v, want %+v", res.child, got, want)))
	}
	if rev, revoked := r.childRevoked[res.child]; revoked && v.lateForRevoked(r, res, rev) {
		v.revokedHandedOut = append(v.revokedHandedOut, describe(fmt.Sprintf("child %s handed out %s after its revocation was acknowledged",
			res.child, res.start.Sub(rev.acked).Round(time.Millisecond))))
	}
}

// lateForRevoked reports whether res, handed what rev revoked, started
// past the run's revocation window after rev was acknowledged, and keeps
// the latest start within the window.
func (v *soakVerdict) lateForRevoked(r *soakRun, res soakResult, rev revocation) bool {
	after := res.start.Sub(rev.acked)
	if after <= 0 {
		return false
	}
	if after > r.cfg.revocationWindow() {
		return true
	}
	v.servedRevoked = max(v.servedRevoked, after)
	return false
}

// since is how far into the load t is.
func (r *soakRun) since(t time.Time) time.Duration { return t.Sub(r.began).Round(time.Millisecond) }

// summary is the line to quote: the counts, then the outage.
func (v *soakVerdict) summary() string {
	window := ""
	if v.window > 0 {
		window = fmt.Sprintf("revoked handed out at most %s after the acknowledgement (within the client cache's %s); ",
			v.servedRevoked.Round(time.Microsecond), v.window)
	}
	return fmt.Sprintf("requests=%d 200=%d 503=%d 401=%d other=%d children=%d revocations=%d (children %d, parents %d) "+
		"checkpoints=%d duplicates=%d orphans=%d revoked-handed-out=%d bad-answers=%d wrong-children=%d unrecovered=%d; %s"+
		"Redis down %s, daemons answered 200 again %s after it was back, last 503 to a request started +%s after",
		v.requests, v.ok, v.unavailable, v.unauthorized, v.other, v.children,
		v.childRevocations+v.parentRevocations, v.childRevocations, v.parentRevocations,
		v.checkpoints, len(v.duplicates), len(v.orphans), len(v.revokedHandedOut), len(v.badAnswers), len(v.wrongChildren),
		len(v.unrecovered), window, v.outage.Round(time.Millisecond), v.recovered.Round(time.Millisecond),
		v.lastUnavailable.Round(time.Millisecond))
}

// report fails the test once for each kind of problem found, with the
// first few examples.
func (v *soakVerdict) report(t *testing.T) {
	t.Helper()
	for _, err := range v.harness {
		t.Errorf("soak harness: %v", err)
	}
	for _, c := range []struct {
		what  string
		found []string
	}{
		{"duplicate children (groups with more than one live child at a checkpoint)", v.duplicates},
		{"orphans", v.orphans},
		{"revoked children or parents handed out after their revocation was acknowledged (past the client cache's window, when on)", v.revokedHandedOut},
		{"answers other than 200, 401 for a revoked parent, or 503 during the outage", v.badAnswers},
		{"children not of the parent and kind asked for", v.wrongChildren},
		{"daemons that did not recover", v.unrecovered},
	} {
		if len(c.found) == 0 {
			continue
		}
		const shown = 5
		t.Errorf("%d %s; the first:\n  %s", len(c.found), c.what, joinFirst(c.found, shown))
	}
}

func joinFirst(items []string, n int) string {
	s := ""
	for i, item := range items[:min(n, len(items))] {
		if i > 0 {
			s += "\n  "
		}
		s += item
	}
	return s
}
