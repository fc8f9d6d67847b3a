package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// memoryHeld is a token store that says it holds every token in process
// memory, as a Redis store with a client cache says of those it has read:
// the handler and the service then serve from it without a worker.
type memoryHeld struct {
	ports.TokenStore
	served atomic.Int32
}

func (s *memoryHeld) GetLocal(ctx context.Context, token domain.Token) (domain.TokenData, bool) {
	data, err := s.Get(ctx, token)
	if err != nil {
		return domain.TokenData{}, false
	}
	s.served.Add(1)
	return data, true
}

// Served from process memory or from the stores, every answer is the same:
// status, headers, body, which child (a new one or one handed out before),
// the request's log record and the metrics. Both fixtures go through the
// same steps: creations, reuse, refusals, a child past half its lifetime,
// a revoked child, a revoked parent.
func TestDelegateFromMemoryAnswersAsTheStoresDo(t *testing.T) {
	t.Parallel()
	fromMemory, held, fromStores := newParityFixtures(t)
	a, b := runParitySteps(t, fromStores), runParitySteps(t, fromMemory)
	if n := held.served.Load(); n < 10 {
		t.Errorf("%d reads served from memory; the steps make at least 10", n)
	}
	if len(a) != len(b) {
		t.Fatalf("%d answers from the stores, %d from memory", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("step %d:\nfrom the stores: %s\nfrom memory:     %s", i, a[i], b[i])
		}
	}
	if sa, sb := countersOf(t, fromStores), countersOf(t, fromMemory); sa != sb {
		t.Errorf("metrics differ:\nfrom the stores:\n%s\nfrom memory:\n%s", sa, sb)
	}
}

// answerer sends requests to a fixture and writes each answer as one line
// to compare with another fixture's: status, headers, body and the
// request's log record, with tokens named by their order of appearance.
type answerer struct {
	f     *fixture
	names map[string]string
	byKey []string // token, name, key, name...: what the names replace
}

func newAnswerer(f *fixture) *answerer { return &answerer{f: f, names: map[string]string{}} }

// name is tok's name, given at its first appearance.
func (a *answerer) name(tok string) string {
	if _, ok := a.names[tok]; !ok {
		a.names[tok] = "token" + string(rune('A'+len(a.names)))
		a.byKey = append(a.byKey, tok, a.names[tok])
		if parsed, err := domain.ParseToken(tok); err == nil {
			a.byKey = append(a.byKey, parsed.Key, a.names[tok])
		}
	}
	return a.names[tok]
}

// answer sends req and returns its answer's line.
func (a *answerer) answer(t *testing.T, req *http.Request) string {
	t.Helper()
	logged := len(a.f.logs.String())
	resp, body := a.f.do(t, req)
	var hdr []string
	for k, vs := range resp.Header {
		for _, v := range vs {
			if v == "" {
				continue
			}
			if k == "X-Auth-Request-Token" {
				v = a.name(v)
			}
			hdr = append(hdr, k+": "+v)
		}
	}
	slices.Sort(hdr)
	line := strings.Join([]string{
		resp.Status, strings.Join(hdr, "; "), body, logRecord(t, a.f.logs.String()[logged:]),
	}, " | ")
	return strings.NewReplacer(a.byKey...).Replace(line)
}

// runParitySteps sends f the parity steps and returns each answer's line.
func runParitySteps(t *testing.T, f *fixture) []string {
	t.Helper()
	a := newAnswerer(f)
	parent := f.mintParent(t, "alice", []string{"read:all", "exec:notebook"}, 2*time.Hour)
	a.name(parent.String())
	bearer := "Bearer " + parent.String()
	const internal = "/auth/delegate?delegate_to=portal&delegate_scope=read:all"
	const notebook = "/auth/delegate?notebook=true"
	var answers []string
	send := func(authorization, cookie, target string) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		if cookie != "" {
			req.Header.Set("Cookie", "gafaelfawr="+cookie)
		}
		answers = append(answers, a.answer(t, req))
	}
	send(bearer, "", internal) // made
	send(bearer, "", internal) // reused
	send(bearer, "", notebook)
	send(bearer, "", notebook)
	send("", f.cookie(t, parent), internal)
	send(bearer, "", "/auth/delegate?scope=read:all")
	send(bearer, "", "/auth/delegate?scope=admin:token")
	send(bearer, "", internal+"&minimum_lifetime=10800")
	send(bearer, "", "/auth/delegate?delegate_to=portal&delegate_scope=read:all,exec:notebook")
	f.clock.Advance(61 * time.Minute) // the children are past half their lifetime
	send(bearer, "", internal)
	send(bearer, "", internal)
	resp, _ := f.delegate(t, parent, "notebook=true")
	child := f.childData(t, resp)
	if err := f.store.Delete(context.Background(), child.Token.Key); err != nil {
		t.Fatal(err)
	}
	send(bearer, "", notebook) // the revoked child is replaced
	if err := f.store.Delete(context.Background(), parent.Key); err != nil {
		t.Fatal(err)
	}
	send(bearer, "", internal)
	send("", f.cookie(t, parent), internal)
	return answers
}

// newParityFixtures returns a fixture whose stores say they hold
// everything in process memory, its count of reads served from memory,
// and a fixture whose stores do not.
func newParityFixtures(t *testing.T) (fromMemory *fixture, held *memoryHeld, fromStores *fixture) {
	t.Helper()
	held = &memoryHeld{}
	fromMemory = newFixture(t, options{wrap: func(s ports.TokenStore) ports.TokenStore {
		held.TokenStore = s
		return held
	}})
	return fromMemory, held, newFixture(t, options{})
}

// logRecord is the request record among the log lines, without its
// duration.
func logRecord(t *testing.T, lines string) string {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "request" {
			continue
		}
		delete(rec, "time")
		delete(rec, "duration")
		out, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	t.Fatalf("no request record among %q", lines)
	return ""
}

// countersOf is f's metrics without the durations.
func countersOf(t *testing.T, f *fixture) string {
	t.Helper()
	resp, body := f.get(t, "", "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	var kept []string
	durations := regexp.MustCompile(`_seconds(_bucket|_sum|_count)?\{|_seconds(_sum|_count)? `)
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "tokencache_") && !durations.MatchString(line) {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}
