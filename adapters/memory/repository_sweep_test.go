package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// sweepFixture is a repository with one long-lived parent.
type sweepFixture struct {
	repo   *Repository
	parent domain.TokenData
}

func newSweepFixture(t *testing.T, repo *Repository, now time.Time) *sweepFixture {
	t.Helper()
	f := &sweepFixture{repo: repo}
	f.parent = sweepToken(t, domain.TokenData{Username: "u", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(30 * 24 * time.Hour)})
	f.commit(t, domain.TokenRecord{Data: f.parent, Actor: "u"})
	return f
}

// addChildren commits n internal children of the parent, each for its own
// service, created at created and expiring after lifetime.
func (f *sweepFixture) addChildren(t *testing.T, n int, created time.Time, lifetime time.Duration) []domain.TokenData {
	t.Helper()
	var recs []domain.TokenRecord
	var out []domain.TokenData
	for range n {
		child := sweepToken(t, domain.TokenData{Username: "u", Type: domain.TokenTypeInternal,
			Scopes: []string{"read:all"}, Created: created, Expires: created.Add(lifetime)})
		child.Service = "service-" + child.Token.Key[:8]
		recs = append(recs, domain.TokenRecord{Data: child, ParentKey: f.parent.Token.Key, Actor: "u"})
		out = append(out, child)
	}
	f.commit(t, recs...)
	return out
}

func (f *sweepFixture) commit(t *testing.T, recs ...domain.TokenRecord) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.repo.Begin(ctx, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := tx.AddToken(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func sweepToken(t *testing.T, data domain.TokenData) domain.TokenData {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data.Token = tok
	return data
}

func TestRepositoryDropsExpiredRows(t *testing.T) {
	// Ten generations of a parent's children, each expired by the real
	// time before the next is committed: the repository must not keep
	// them all, nor their links and history.
	now := time.Now().UTC().Truncate(time.Second)
	f := newSweepFixture(t, NewRepository(), now)
	var first []domain.TokenData
	for gen := range 10 {
		children := f.addChildren(t, minSweep, now.Add(-2*time.Hour), time.Hour)
		if gen == 0 {
			first = children
		}
	}
	if n := f.repo.Len(); n > 2*minSweep {
		t.Errorf("repository holds %d rows, of which 1 is live; want at most %d", n, 2*minSweep)
	}
	if n := len(f.repo.Children(f.parent.Token.Key)); n > 2*minSweep {
		t.Errorf("parent has %d children, none live; want at most %d", n, 2*minSweep)
	}
	if h := f.repo.History(first[0].Token.Key); len(h) != 0 {
		t.Errorf("history of a swept child: %d entries, want none", len(h))
	}
	if _, ok := f.repo.Token(f.parent.Token.Key); !ok {
		t.Error("the live parent was swept")
	}
}

func TestRepositorySweepKeepsLiveChildrenFindable(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f := newSweepFixture(t, NewRepositoryWithClock(clock), clock.Now())
	short := f.addChildren(t, minSweep/2, clock.Now(), time.Hour)
	long := f.addChildren(t, minSweep/2, clock.Now(), 48*time.Hour)
	clock.Advance(2 * time.Hour)
	f.addChildren(t, 1, clock.Now(), time.Hour) // this commit sweeps

	f.repo.mu.RLock()
	rows, lookups, history := len(f.repo.tokens), len(f.repo.lookups), len(f.repo.history)
	f.repo.mu.RUnlock()
	if want := 1 + len(long) + 1; rows != want || lookups != want-1 || history != want {
		t.Fatalf("after the sweep: %d rows, %d lookup keys, %d histories; want %d, %d, %d",
			rows, lookups, history, want, want-1, want)
	}
	tx, err := f.repo.Begin(context.Background(), "find")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for name, tt := range map[string]struct {
		child domain.TokenData
		found bool
	}{
		"live": {long[len(long)-1], true},
		"gone": {short[0], false},
	} {
		q := domain.ChildQuery{ParentKey: f.parent.Token.Key, Type: domain.TokenTypeInternal,
			Service: tt.child.Service, Scopes: tt.child.Scopes, MinExpiration: tt.child.Created}
		key, err := tx.FindChild(context.Background(), q)
		if found := err == nil && key == tt.child.Token.Key; found != tt.found {
			t.Errorf("%s child: FindChild = %q, %v; want found %v", name, key, err, tt.found)
		}
	}
	q := domain.ChildQuery{ParentKey: f.parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: clock.Now()}
	got, err := tx.LookUpChild(context.Background(), q, domain.ChildWindow{Since: clock.Now().Add(-3 * time.Hour), Max: 1})
	if err != nil || got.Recent.N != len(long)+1 {
		t.Fatalf("LookUpChild counted %+v, %v; want %d (the swept children no longer count)", got.Recent, err, len(long)+1)
	}
}

func TestRepositoryCountsOutOfOrderCreations(t *testing.T) {
	// Units of work may commit children in another order than they made
	// them; the count goes by creation time, not by commit order.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newSweepFixture(t, NewRepositoryWithClock(NewManualClock(now)), now)
	for _, ago := range []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute, 0, 5 * time.Minute} {
		f.addChildren(t, 1, now.Add(-ago), time.Hour)
	}
	tx, err := f.repo.Begin(context.Background(), "count")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, tt := range []struct {
		since time.Duration
		want  int
	}{{0, 1}, {time.Minute, 2}, {150 * time.Second, 3}, {3 * time.Minute, 4}, {time.Hour, 5}} {
		t.Run(fmt.Sprintf("since %v ago", tt.since), func(t *testing.T) {
			q := domain.ChildQuery{ParentKey: f.parent.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: now}
			got, err := tx.LookUpChild(context.Background(), q, domain.ChildWindow{Since: now.Add(-tt.since), Max: 1})
			if err != nil || got.Recent.N != tt.want {
				t.Fatalf("LookUpChild counted %+v, %v; want %d", got.Recent, err, tt.want)
			}
		})
	}
}
