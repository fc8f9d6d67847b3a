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

// What the stores hold in process memory is served on the request's own
// goroutine; the work goes to a worker from the first step that needs a
// store, and a parent read from memory is not read again there.
func TestDelegateServesWhatMemoryHoldsWithoutAWorker(t *testing.T) {
	t.Parallel()
	newToken := func() domain.Token {
		tok, err := domain.NewToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
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
			now := time.Now()
			parents := &heldParents{held: tc.parentHeld, data: domain.TokenData{
				Token: newToken(), Username: "alice", Type: domain.TokenTypeSession,
				Scopes: []string{"read:all"}, Created: now, Expires: now.Add(time.Hour),
			}}
			issuer := &heldChild{child: newToken(), held: tc.childHeld}
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
