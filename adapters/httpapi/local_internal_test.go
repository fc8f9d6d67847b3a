package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// heldParents is a parent store holding one token, in process memory when
// held is set.
type heldParents struct {
	data            domain.TokenData
	held            bool
	gets, localGets atomic.Int32
}

func (s *heldParents) Get(_ context.Context, token domain.Token) (domain.TokenData, error) {
	s.gets.Add(1)
	if token != s.data.Token {
		return domain.TokenData{}, fmt.Errorf("token %s: %w", token.Key, ports.ErrNotFound)
	}
	return s.data, nil
}

func (s *heldParents) GetLocal(_ context.Context, token domain.Token) (domain.TokenData, bool) {
	s.localGets.Add(1)
	return s.data, s.held && token == s.data.Token
}

// heldChild is an issuer of one child, held in process memory when held
// is set.
type heldChild struct {
	child           domain.Token
	held            bool
	gets, localGets atomic.Int32
}

func (i *heldChild) GetNotebookToken(context.Context, domain.TokenData, string, time.Duration) (domain.Token, error) {
	i.gets.Add(1)
	return i.child, nil
}

func (i *heldChild) GetInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, error) {
	i.gets.Add(1)
	return i.child, nil
}

func (i *heldChild) LocalNotebookToken(context.Context, domain.TokenData, string, time.Duration) (domain.Token, bool) {
	i.localGets.Add(1)
	return i.child, i.held
}

func (i *heldChild) LocalInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, bool) {
	i.localGets.Add(1)
	return i.child, i.held
}

// onlyIssuer hides heldChild's reads from memory: an issuer that is not a
// LocalIssuer.
type onlyIssuer struct{ ChildIssuer }

// stuckChild is a LocalIssuer whose memory never holds the child and whose
// store never answers until released, as a driver stuck past its context.
type stuckChild struct {
	heldChild
	release chan struct{}
}

func (i *stuckChild) GetInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, error) {
	<-i.release
	return i.child, nil
}

func newTestToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newHeldParents holds a live session of alice, in memory if held.
func newHeldParents(t *testing.T, held bool) *heldParents {
	t.Helper()
	now := time.Now()
	return &heldParents{held: held, data: domain.TokenData{
		Token: newTestToken(t), Username: "alice", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(time.Hour),
	}}
}

// serveInternal asks h for alice's internal child with parents' token.
func serveInternal(h *delegateHandler, parents *heldParents) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate?delegate_to=portal&delegate_scope=read:all", nil)
	req.Header.Set("Authorization", "Bearer "+parents.data.Token.String())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// What the stores hold in process memory is served on the request's own
// goroutine; the work goes to a worker from the first step that needs a
// store, and a parent read from memory is not read again there.
func TestDelegateServesWhatMemoryHoldsWithoutAWorker(t *testing.T) {
	t.Parallel()
	const internal = "/auth/delegate?delegate_to=portal&delegate_scope=read:all"
	for _, tc := range []struct {
		name                   string
		target                 string
		parentHeld, childHeld  bool
		status                 int
		workers                int64
		parentGets, issuerGets int32
		issuerLocalGets        int32
		wantChild              bool
	}{
		{"all in memory", internal, true, true, http.StatusOK, 0, 0, 0, 1, true},
		{"notebook, all in memory", "/auth/delegate?notebook=true", true, true, http.StatusOK, 0, 0, 0, 1, true},
		{"authentication only", "/auth/delegate?scope=read:all", true, false, http.StatusOK, 0, 0, 0, 0, false},
		{"scope missing", "/auth/delegate?scope=admin:token", true, true, http.StatusForbidden, 0, 0, 0, 0, false},
		{"child not in memory", internal, true, false, http.StatusOK, 1, 0, 1, 1, true},
		{"parent not in memory", internal, false, true, http.StatusOK, 1, 1, 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parents := newHeldParents(t, tc.parentHeld)
			issuer := &heldChild{child: newTestToken(t), held: tc.childHeld}
			h := newDelegateHandler(Config{
				Issuer: issuer, Parents: parents, Clock: systemClock{}, Metrics: NewMetrics(),
				Logger: slog.New(slog.DiscardHandler), RequestTimeout: time.Second,
			})
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.Header.Set("Authorization", "Bearer "+parents.data.Token.String())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("X-Auth-Request-Token"); (got == issuer.child.String()) != tc.wantChild {
				t.Errorf("X-Auth-Request-Token %q; want the child: %v", got, tc.wantChild)
			}
			for _, c := range []struct {
				what      string
				got, want int64
			}{
				{"workers started", h.workers.started.Load(), tc.workers},
				{"parent reads from the store", int64(parents.gets.Load()), int64(tc.parentGets)},
				{"children asked of the issuer", int64(issuer.gets.Load()), int64(tc.issuerGets)},
				{"children asked of the issuer's memory", int64(issuer.localGets.Load()), int64(tc.issuerLocalGets)},
			} {
				if c.got != c.want {
					t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
				}
			}
		})
	}
}

// A parent held in memory with an issuer that cannot tell a child without
// I/O: the child comes from the issuer, on a worker, and the parent is not
// read again.
func TestDelegateParentFromMemoryWithAnIssuerWithoutMemory(t *testing.T) {
	t.Parallel()
	parents := newHeldParents(t, true)
	inner := &heldChild{child: newTestToken(t), held: true}
	h := newDelegateHandler(Config{
		Issuer: onlyIssuer{inner}, Parents: parents, Clock: systemClock{}, Metrics: NewMetrics(),
		Logger: slog.New(slog.DiscardHandler), RequestTimeout: time.Second,
	})
	rec := serveInternal(h, parents)
	if got := rec.Header().Get("X-Auth-Request-Token"); rec.Code != http.StatusOK || got != inner.child.String() {
		t.Fatalf("status %d, child %q; want 200 with the issuer's child", rec.Code, got)
	}
	if g := inner.gets.Load(); g != 1 {
		t.Errorf("issuer asked %d times, want 1", g)
	}
	if g := parents.gets.Load(); g != 0 {
		t.Errorf("parent read from the store %d times after it was read from memory", g)
	}
	if g := h.workers.started.Load(); g != 1 {
		t.Errorf("%d workers started, want 1", g)
	}
}

// A parent held in memory, a child that is not, and a store stuck past the
// deadline: the answer is a 503 by the request timeout.
func TestDelegateParentFromMemoryThenAStuckStoreAnswersByTheDeadline(t *testing.T) {
	t.Parallel()
	parents := newHeldParents(t, true)
	issuer := &stuckChild{heldChild: heldChild{child: newTestToken(t)}, release: make(chan struct{})}
	t.Cleanup(func() { close(issuer.release) })
	const timeout = 200 * time.Millisecond
	h := newDelegateHandler(Config{
		Issuer: issuer, Parents: parents, Clock: systemClock{}, Metrics: NewMetrics(),
		Logger: slog.New(slog.DiscardHandler), RequestTimeout: timeout,
	})
	start := time.Now()
	rec := serveInternal(h, parents)
	if took := time.Since(start); rec.Code != http.StatusServiceUnavailable || took > timeout+2*time.Second {
		t.Fatalf("status %d after %s; want 503 by the %s timeout", rec.Code, took, timeout)
	}
}
