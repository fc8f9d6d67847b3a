package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Gafaelfawr's reference behaviours of its token cache, on the real stores.

// envBehaviour is an integration test that runs on any realEnv.
type envBehaviour struct {
	name string
	run  func(t *testing.T, e *realEnv)
}

// referenceBehaviours run on the single Redis server here, and on each
// Redis topology in integration_topology_test.go.
var referenceBehaviours = []envBehaviour{
	{"ChildReusedFromCache", integrationChildReusedFromCache},
	{"DifferentServiceOrScopesGiveDifferentChildren", integrationDifferentServiceOrScopesGiveDifferentChildren},
	{"NewParentGivesNewChildren", integrationNewParentGivesNewChildren},
	{"ParentScopeChangeKeepsInternalChild", integrationParentScopeChangeKeepsInternalChild},
	{"ChildMissingFromRedisIsReplaced", integrationChildMissingFromRedisIsReplaced},
	{"ChildPastHalfLifeIsReplaced", integrationChildPastHalfLifeIsReplaced},
	{"ClearFindsChildInDatabase", integrationClearFindsChildInDatabase},
	{"ParentCappedChildPastHalfLifeSkipsDatabase", integrationParentCappedChildPastHalfLifeSkipsDatabase},
}

func TestIntegrationReferenceBehaviours(t *testing.T) {
	t.Parallel()
	for _, b := range referenceBehaviours {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t, newRealEnv(t))
		})
	}
}

func integrationChildReusedFromCache(t *testing.T, e *realEnv) {
	p := e.addParent(t, 7*24*time.Hour)
	first := e.internal(t, p, "portal", []string{"read:all"})
	second := e.internal(t, p, "portal", []string{"read:all"})
	nb1 := e.notebook(t, p)
	nb2 := e.notebook(t, p)
	if first != second || nb1 != nb2 || first == nb1 {
		t.Fatal("want one internal and one notebook child, each reused")
	}
	if n := e.children(t, p.Token.Key); n != 2 {
		t.Fatalf("%d child rows, want 2", n)
	}
}

func integrationDifferentServiceOrScopesGiveDifferentChildren(t *testing.T, e *realEnv) {
	p := e.addParent(t, 7*24*time.Hour)
	seen := map[domain.Token]bool{}
	for _, req := range []struct {
		service string
		scopes  []string
	}{
		{"portal", []string{"read:all"}},
		{"tap", []string{"read:all"}},
		{"portal", []string{"read:all", "read:tap"}},
		{"portal", []string{}},
	} {
		tok := e.internal(t, p, req.service, req.scopes)
		if seen[tok] {
			t.Fatalf("%s %v reused another request's child", req.service, req.scopes)
		}
		seen[tok] = true
	}
	if n := e.children(t, p.Token.Key); n != 4 {
		t.Fatalf("%d child rows, want 4", n)
	}
}

func integrationNewParentGivesNewChildren(t *testing.T, e *realEnv) {
	p1 := e.addParent(t, 7*24*time.Hour)
	p2 := e.addParent(t, 7*24*time.Hour)
	a := e.notebook(t, p1)
	b := e.notebook(t, p2)
	if a == b {
		t.Fatal("two parents share a notebook child")
	}
}

func integrationParentScopeChangeKeepsInternalChild(t *testing.T, e *realEnv) {
	p := e.addParent(t, 7*24*time.Hour)
	before := e.internal(t, p, "portal", []string{"read:all"})
	p.Scopes = []string{"read:all", "user:token"}
	after := e.internal(t, p, "portal", []string{"read:all"})
	if before != after {
		t.Fatal("changing the parent's other scopes replaced the internal child")
	}
}

func integrationChildMissingFromRedisIsReplaced(t *testing.T, e *realEnv) {
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	old := e.internal(t, p, "portal", []string{"read:all"})
	if err := e.raw.Del(ctx, "token:"+old.Key).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := e.internal(t, p, "portal", []string{"read:all"})
	if fresh == old {
		t.Fatal("a child missing from Redis was handed out")
	}
	if _, err := e.store.Get(ctx, fresh); err != nil {
		t.Fatalf("the replacement is not in Redis: %v", err)
	}
}

func integrationChildPastHalfLifeIsReplaced(t *testing.T, e *realEnv) {
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	old := e.notebook(t, p)
	data, err := e.store.Get(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite its record as if made 20 of its 24 hours ago.
	data.Created = data.Created.Add(-20 * time.Hour)
	data.Expires = data.Created.Add(24 * time.Hour)
	if err := e.store.Store(ctx, data); err != nil {
		t.Fatal(err)
	}
	fresh := e.notebook(t, p)
	if fresh == old {
		t.Fatal("a child past half its lifetime was handed out")
	}
}

func integrationClearFindsChildInDatabase(t *testing.T, e *realEnv) {
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	nb := e.notebook(t, p)
	in := e.internal(t, p, "portal", []string{"read:all"})
	var historyBefore int
	if err := e.db.Get(&historyBefore, `SELECT count(*) FROM token_change_history WHERE username = $1`, p.Username); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	nb2 := e.notebook(t, p)
	in2 := e.internal(t, p, "portal", []string{"read:all"})
	if nb2 != nb || in2 != in {
		t.Fatal("after Clear the existing children were not found in the database")
	}
	var historyAfter int
	if err := e.db.Get(&historyAfter, `SELECT count(*) FROM token_change_history WHERE username = $1`, p.Username); err != nil {
		t.Fatal(err)
	}
	if n := e.children(t, p.Token.Key); n != 2 || historyAfter != historyBefore {
		t.Fatalf("after Clear: %d child rows (want 2), history %d -> %d (want unchanged)", n, historyBefore, historyAfter)
	}
}

func integrationParentCappedChildPastHalfLifeSkipsDatabase(t *testing.T, e *realEnv) {
	ctx := context.Background()
	p := e.addParent(t, 2*time.Hour)
	old := e.notebook(t, p)
	data, err := e.store.Get(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if !data.Expires.Equal(p.Expires) {
		t.Fatalf("child expires %v, want the parent's %v", data.Expires, p.Expires)
	}
	// Rewrite it as made long ago; it still expires with its parent, so no
	// new child could do better.
	data.Created = data.Created.Add(-22 * time.Hour)
	if err := e.store.Store(ctx, data); err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
	if err != nil || again != old {
		t.Fatalf("got %v, %v; want the parent-capped child", again.Key, err)
	}
}
