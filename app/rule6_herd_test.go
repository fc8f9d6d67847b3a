package app

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Rule 6, herds: requests that waited for the holder of a child's lock take
// the holder's result, the child it has just read or written, without
// reading the stores again, when that child will do for them; otherwise
// they look for themselves. The holder's failures are shared too, unless
// they are the holder's own: its own timeout, or a refusal of a new child
// that the waiter's own lookup might have avoided by reusing one.

// holdBegin makes the next Begin wait until release is closed, telling
// entered when it starts waiting, and then answer with f.tx.
func holdBegin(f *fixture, entered chan<- struct{}, release <-chan struct{}) {
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.CacheKey) (ports.RepositoryTx, error) {
		close(entered)
		<-release
		return f.tx, nil
	})
}

// startHerd starts the holder's request, waits until it is in Begin, then
// starts the waiters' requests and waits until they all wait for it. The
// holder's Begin must wait on release, as holdBegin makes it.
func startHerd(t *testing.T, f *fixture, entered <-chan struct{}, holder func() (domain.Token, error), waiters ...func() (domain.Token, error)) (<-chan result, []<-chan result) {
	t.Helper()
	h := goRequest(holder)
	<-entered
	ws := make([]<-chan result, len(waiters))
	for i, w := range waiters {
		ws[i] = goRequest(w)
	}
	waitFor(t, func() bool { return f.svc.flights.Waiting() == len(waiters) })
	return h, ws
}

func TestRule6WaitersTakeTheHolderResult(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	entered, release := make(chan struct{}), make(chan struct{})
	holdBegin(f, entered, release)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	var created domain.TokenData
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		created = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
	// No Get: a waiter that read the token store again would fail here.

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	const waiters = 20
	herd := make([]func() (domain.Token, error), waiters)
	for i := range herd {
		herd[i] = request
	}
	holder, ws := startHerd(t, f, entered, request, herd...)
	close(release)
	if r := <-holder; r.err != nil || r.token != created.Token {
		t.Fatalf("holder got %v, %v; want the child it created", r.token.Key, r.err)
	}
	for i, w := range ws {
		if r := <-w; r.err != nil || r.token != created.Token {
			t.Fatalf("waiter %d got %v, %v; want the holder's child %v", i, r.token.Key, r.err, created.Token.Key)
		}
	}
	// A waiter handed the child the holder has just cached counts as a hit,
	// as it did when it read that child from the cache.
	want := countsWith(func(c *memory.Counts) { c.CacheMisses, c.CacheHits, c.Lookups, c.Created = 1+waiters, waiters, 1, 1 })
	if c := f.observer.Counts(); c != want {
		t.Fatalf("observer counts = %+v, want %+v", c, want)
	}
}

func TestRule6WaiterTakesTheHolderResultOnlyIfItWillDo(t *testing.T) {
	// The holder finds in the repository a child with 13 hours left of 30,
	// created under a longer token lifetime: past half its life, so not
	// reusable from the cache, but beyond the lookup's cut-off of half the
	// token lifetime (12 hours), so reusable from the repository (rule 4).
	tests := []struct {
		name   string
		waiter func(f *fixture, p domain.TokenData) (domain.Token, error)
		// own says the waiter must make its own child: the holder's does
		// not meet its request.
		own bool
	}{
		{"SameRequest", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 0)
		}, false},
		{"ShorterMinimumLifetime", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 2*time.Hour)
		}, false},
		{"LongerMinimumLifetime", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 20*time.Hour)
		}, true},
		{"ParentHasLostAScope", func(f *fixture, p domain.TokenData) (domain.Token, error) {
			p.Scopes = []string{"read:all"} // same key and expiry: the same cache key
			return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", 0)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := parent(t)
			old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-17*time.Hour), 30*time.Hour)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release)
			f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return(old.Token.Key, nil)
			f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).Return(old, nil)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
			var created domain.TokenData
			if tt.own {
				f.expectCreate(&created)
			}

			holder, ws := startHerd(t, f, entered,
				func() (domain.Token, error) { return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0) },
				func() (domain.Token, error) { return tt.waiter(f, p) })
			close(release)
			if r := <-holder; r.err != nil || r.token != old.Token {
				t.Fatalf("holder got %v, %v; want the repository's child %v", r.token.Key, r.err, old.Token.Key)
			}
			r := <-ws[0]
			want := old.Token
			if tt.own {
				want = created.Token // stored by the waiter's own creation
			}
			if r.err != nil || r.token != want {
				t.Fatalf("waiter got %v, %v; want %v", r.token.Key, r.err, want.Key)
			}
		})
	}
}

func TestRule6WaiterSharesTheHolderFailure(t *testing.T) {
	tests := []struct {
		name string
		// fail makes the holder's work, once Begin has answered, fail.
		fail        func(f *fixture)
		wantErr     error
		wantCounted func(c *memory.Counts)
	}{
		{
			name: "StoreFailure",
			fail: func(f *fixture) {
				f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errUnreachable)
			},
			wantErr:     errUnreachable,
			wantCounted: func(c *memory.Counts) { c.StoreErrors = 1 },
		},
		{
			name: "TooManyChildren",
			fail: func(f *fixture) {
				f.svc.budget = domain.ChildBudget{Max: 1, Window: time.Hour}
				f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).
					Return(ports.ChildLookup{Recent: domain.ChildCount{N: 1, Earliest: specNow.Add(-time.Minute)}}, nil)
			},
			wantErr:     domain.ErrTooManyChildren,
			wantCounted: func(c *memory.Counts) { c.Lookups, c.Refused = 1, 1 },
		},
		{
			name: "ParentUnknownToTheRepository",
			fail: func(f *fixture) {
				f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
				f.store.EXPECT().Store(gomock.Any(), gomock.Any()).Return(nil)
				f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).
					Return(fmt.Errorf("adding token: %w: parent is not in the repository", domain.ErrInvalidToken))
				f.store.EXPECT().Delete(gomock.Any(), gomock.Any()).Return(nil)
			},
			wantErr:     domain.ErrInvalidToken,
			wantCounted: func(c *memory.Counts) { c.Lookups = 1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := parent(t)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release) // once: the waiter makes no attempt of its own
			tt.fail(f)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)

			request := func() (domain.Token, error) {
				return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
			}
			holder, ws := startHerd(t, f, entered, request, request)
			close(release)
			if r := <-holder; !errors.Is(r.err, tt.wantErr) {
				t.Fatalf("holder got %v, want %v", r.err, tt.wantErr)
			}
			if r := <-ws[0]; !errors.Is(r.err, tt.wantErr) {
				t.Fatalf("waiter got %v, want the holder's %v", r.err, tt.wantErr)
			}
			// One failure, counted once; two requests that found nothing.
			want := countsWith(func(c *memory.Counts) { tt.wantCounted(c); c.CacheMisses = 2 })
			if c := f.observer.Counts(); c != want {
				t.Fatalf("observer counts = %+v, want %+v", c, want)
			}
		})
	}
}

// A refusal for a full child budget (rule 10) depends on the holder's own
// cut-off: it came after a lookup that found no child living past it. A
// waiter whose cut-off is earlier may reuse a child that lookup passed
// over, and reuse is never refused, so it looks for itself; a waiter whose
// cut-off is no earlier would find nothing more, and shares the refusal.
func TestRule6BudgetRefusalIsSharedOnlyWithWaitersItBinds(t *testing.T) {
	tests := []struct {
		name           string
		waiterLifetime time.Duration // the waiter's minimum lifetime
		wantReuse      bool
	}{
		{"ShorterMinimumLifetime", 2 * time.Hour, true},
		{"SameMinimumLifetime", 20 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.budget = domain.ChildBudget{Max: 1, Window: time.Hour}
			p := parent(t)
			// 13 hours left: enough for a 2-hour minimum, not a 20-hour one.
			old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-17*time.Hour), 30*time.Hour)
			entered, release := make(chan struct{}), make(chan struct{})
			holdBegin(f, entered, release)
			units := 1
			if tt.wantReuse { // the waiter's own unit of work
				units = 2
				f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
				f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).Return(old, nil)
			}
			f.tx.EXPECT().LookUpChild(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
				func(_ context.Context, q domain.ChildQuery, _ time.Time) (ports.ChildLookup, error) {
					found := ports.ChildLookup{Recent: domain.ChildCount{N: 1, Earliest: specNow.Add(-time.Minute)}}
					if !old.Expires.Before(q.MinExpiration) {
						found.Key = old.Token.Key
					}
					return found, nil
				}).Times(units)
			f.tx.EXPECT().Rollback(gomock.Any()).Return(nil).Times(units)

			holder, ws := startHerd(t, f, entered,
				func() (domain.Token, error) {
					return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 20*time.Hour)
				},
				func() (domain.Token, error) {
					return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.2", tt.waiterLifetime)
				})
			close(release)
			if r := <-holder; !errors.Is(r.err, domain.ErrTooManyChildren) {
				t.Fatalf("holder got %v, %v; want %v", r.token.Key, r.err, domain.ErrTooManyChildren)
			}
			r := <-ws[0]
			switch {
			case tt.wantReuse && (r.err != nil || r.token != old.Token):
				t.Fatalf("waiter got %v, %v; want the child %v its own lookup finds", r.token.Key, r.err, old.Token.Key)
			case !tt.wantReuse && !errors.Is(r.err, domain.ErrTooManyChildren):
				t.Fatalf("waiter got %v, %v; want the holder's %v", r.token.Key, r.err, domain.ErrTooManyChildren)
			}
		})
	}
}

// countsWith is the observer's counts with only what edit sets.
func countsWith(edit func(c *memory.Counts)) memory.Counts {
	var c memory.Counts
	edit(&c)
	return c
}

// A waiter takes a child the holder read from the token store only if the
// read began after the waiter's request did: a request that began after a
// revocation was acknowledged must not be handed the child as read before
// it. It reads the token store itself, as it would have without the
// holder.
func TestRule6WaiterTakesNoChildReadBeforeItCame(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	old := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-time.Hour), 24*time.Hour)
	f.expectLookupFinds(old.Token.Key)
	reading, release := make(chan struct{}), make(chan struct{})
	f.store.EXPECT().GetByKey(gomock.Any(), old.Token.Key).DoAndReturn(func(context.Context, string) (domain.TokenData, error) {
		close(reading)
		<-release
		return old, nil // as it was when the read began
	})
	// Revoked meanwhile: the waiter's own read finds nothing, and it makes
	// a child of its own.
	f.store.EXPECT().Get(gomock.Any(), old.Token).Return(domain.TokenData{}, ports.ErrNotFound)
	var created domain.TokenData
	f.expectCreate(&created)

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	holder := goRequest(request)
	<-reading
	time.Sleep(time.Millisecond) // the waiter's request begins strictly after the read
	waiter := goRequest(request)
	waitFor(t, func() bool { return f.svc.flights.Waiting() == 1 })
	close(release)
	if r := <-holder; r.err != nil || r.token != old.Token {
		t.Fatalf("holder got %v, %v; want the child it read, %v", r.token.Key, r.err, old.Token.Key)
	}
	if r := <-waiter; r.err != nil || r.token != created.Token {
		t.Fatalf("waiter got %v, %v; want a child of its own, not the one read before it came", r.token.Key, r.err)
	}
}
