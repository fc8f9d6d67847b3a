package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// The answer comes by the request's deadline even when a store call does
// not return (lib/pq can block in a read after its context ended): the
// work goes on, detached, and its result is dropped.

const (
	stuckTimeout = 50 * time.Millisecond
	stuckLeeway  = time.Second
)

// deafGate blocks the calls of the fakes below, whatever their context,
// until it is opened, and counts those still blocked.
type deafGate struct {
	open    chan struct{}
	mu      sync.Mutex
	left    *sync.Cond // signalled when a blocked call leaves
	blocked int
}

// newDeafGate returns a closed gate that opens, and waits for every call it
// blocked to leave, when t ends.
func newDeafGate(t *testing.T) *deafGate {
	g := &deafGate{open: make(chan struct{})}
	g.left = sync.NewCond(&g.mu)
	t.Cleanup(func() {
		close(g.open)
		g.mu.Lock()
		defer g.mu.Unlock()
		for g.blocked > 0 {
			g.left.Wait()
		}
	})
	return g
}

func (g *deafGate) wait() {
	g.mu.Lock()
	g.blocked++
	g.mu.Unlock()
	<-g.open
	g.mu.Lock()
	g.blocked--
	g.left.Broadcast()
	g.mu.Unlock()
}

// deafIssuer ignores its context and answers only when its gate opens.
type deafIssuer struct{ gate *deafGate }

func (i deafIssuer) GetNotebookToken(context.Context, domain.TokenData, string, time.Duration) (domain.Token, error) {
	i.gate.wait()
	return domain.Token{}, errUnreachable
}

func (i deafIssuer) GetInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, error) {
	i.gate.wait()
	return domain.Token{}, errUnreachable
}

// deafStore is a token store whose reads ignore their context and answer
// only when its gate opens.
type deafStore struct {
	ports.TokenStore
	gate *deafGate
}

func (s deafStore) Get(ctx context.Context, token domain.Token) (domain.TokenData, error) {
	s.gate.wait()
	return s.TokenStore.Get(ctx, token)
}

func (s deafStore) GetByKey(ctx context.Context, key string) (domain.TokenData, error) {
	s.gate.wait()
	return s.TokenStore.GetByKey(ctx, key)
}

func TestDelegateAnswersByItsDeadlineWhateverTheStoresDo(t *testing.T) {
	tests := []struct {
		name string
		opts func(*deafGate) options
	}{
		{"IssuerStuck", func(g *deafGate) options {
			return options{issuer: deafIssuer{g}}
		}},
		{"ParentLookupStuck", func(g *deafGate) options {
			return options{wrap: func(s ports.TokenStore) ports.TokenStore { return deafStore{s, g} }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := newDeafGate(t)
			opts := tt.opts(gate)
			opts.timeout = stuckTimeout
			f := newFixture(t, opts)
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			begin := time.Now()
			resp, body := f.delegate(t, parent, "notebook=true")
			if elapsed := time.Since(begin); elapsed > stuckTimeout+stuckLeeway {
				t.Errorf("answered after %v, the request timeout %v", elapsed, stuckTimeout)
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503", resp.StatusCode)
			}
			checkDetail(t, body, "unavailable")
			if !strings.Contains(f.logs.String(), `"outcome":"timeout"`) {
				t.Errorf("the request log does not record the timeout: %s", f.logs.String())
			}
		})
	}
}

func TestHealthzAnswersByItsDeadlineWhateverTheChecksDo(t *testing.T) {
	gate := newDeafGate(t)
	deaf := httpapi.HealthCheck{Name: "deaf", Check: func(context.Context) error {
		gate.wait()
		return nil
	}}
	fine := httpapi.HealthCheck{Name: "fine", Check: func(context.Context) error { return nil }}
	f := newFixture(t, options{health: httpapi.HealthChecks{deaf, fine}, timeout: stuckTimeout})
	begin := time.Now()
	resp, body := f.get(t, "", "/healthz")
	if elapsed := time.Since(begin); elapsed > stuckTimeout+stuckLeeway {
		t.Errorf("answered after %v, the request timeout %v", elapsed, stuckTimeout)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"failed":["deaf"]`) {
		t.Fatalf("status = %d, body %s; want 503 naming only the deaf check", resp.StatusCode, body)
	}
	if !strings.Contains(f.logs.String(), "health check timed out") {
		t.Errorf("the log does not say which check timed out: %s", f.logs.String())
	}
}
