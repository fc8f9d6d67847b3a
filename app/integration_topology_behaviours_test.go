package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Two behaviours of the service that TestIntegrationTopologies runs on
// each Redis topology beside Gafaelfawr's reference ones: the life of a
// child from its creation to its revocation, and a herd.

// revokedWithin is how long a revoked child may still be handed out with
// the client cache on: until Redis's invalidation arrives (milliseconds;
// the margin is for a busy machine). With it off, not once.
const revokedWithin = time.Second

// integrationCreateHitRevoke: a notebook and an internal child are created
// into both stores and handed out again; once revoked as Gafaelfawr revokes
// a token (its Redis key and its rows deleted), each is replaced by a new
// child in both stores rather than handed out.
func integrationCreateHitRevoke(t *testing.T, e *realEnv) {
	p := e.addParent(t, 7*24*time.Hour)
	for _, kind := range []struct {
		name string
		get  func() domain.Token
	}{
		{"notebook", func() domain.Token { return e.notebook(t, p) }},
		{"internal", func() domain.Token { return e.internal(t, p, "portal", []string{"read:all"}) }},
	} {
		created := kind.get()
		e.mustHoldChild(t, p, created)
		if hit := kind.get(); hit != created {
			t.Fatalf("%s: a second request got %s, not the child %s just created", kind.name, hit.Key, created.Key)
		}
		e.revoke(t, created)
		replaced := e.awaitReplaced(t, created, kind.get)
		e.mustHoldChild(t, p, replaced)
	}
	if n := e.children(t, p.Token.Key); n != 2 {
		t.Fatalf("%d child rows after the revocations, want the 2 replacements", n)
	}
}

// integrationHerd: a hundred concurrent requests for a parent's notebook
// child and a hundred for one internal child make one child of each, in
// both stores, handed to every request.
func integrationHerd(t *testing.T, e *realEnv) {
	const n = 100
	p := e.addParent(t, 7*24*time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tokens := make([]domain.Token, 2*n)
	errs := make([]error, 2*n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				tokens[i], errs[i] = e.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0)
			} else {
				tokens[i], errs[i] = e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range 2 * n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[i%2] {
			t.Fatalf("request %d got %s, request %d got %s", i, tokens[i].Key, i%2, tokens[i%2].Key)
		}
	}
	if tokens[0] == tokens[1] {
		t.Fatal("the notebook and the internal requests got one child")
	}
	e.mustHoldChild(t, p, tokens[0])
	e.mustHoldChild(t, p, tokens[1])
	if got := e.children(t, p.Token.Key); got != 2 {
		t.Fatalf("%d child rows, want 2", got)
	}
}

// mustHoldChild fails t unless Redis holds child, as p's, with its secret,
// and PostgreSQL links it to p.
func (e *realEnv) mustHoldChild(t *testing.T, p domain.TokenData, child domain.Token) {
	t.Helper()
	ctx := context.Background()
	data, err := e.store.Get(ctx, child)
	if err != nil {
		t.Fatalf("child %s is not in Redis: %v", child.Key, err)
	}
	if data.Username != p.Username {
		t.Fatalf("child %s is %s's in Redis, want %s's", child.Key, data.Username, p.Username)
	}
	var parent string
	if err := e.db.GetContext(ctx, &parent, `SELECT parent FROM subtoken WHERE child = $1`, child.Key); err != nil {
		t.Fatalf("child %s has no subtoken row: %v", child.Key, err)
	}
	if parent != p.Token.Key {
		t.Fatalf("child %s is linked to %s, want its parent %s", child.Key, parent, p.Token.Key)
	}
}

// revoke deletes tok as Gafaelfawr revokes a token: its Redis key, then
// its token row (and so its subtoken row).
func (e *realEnv) revoke(t *testing.T, tok domain.Token) {
	t.Helper()
	ctx := context.Background()
	if err := e.raw.Del(ctx, "token:"+tok.Key).Err(); err != nil {
		t.Fatalf("deleting %s from Redis: %v", tok.Key, err)
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM token WHERE token = $1`, tok.Key); err != nil {
		t.Fatalf("deleting %s's rows: %v", tok.Key, err)
	}
}

// awaitReplaced asks get until it returns another token than revoked, and
// returns that: at once, or with the client cache on within revokedWithin.
func (e *realEnv) awaitReplaced(t *testing.T, revoked domain.Token, get func() domain.Token) domain.Token {
	t.Helper()
	start := time.Now()
	for {
		tok := get()
		if tok != revoked {
			return tok
		}
		if !e.cfg.ClientCache {
			t.Fatalf("the revoked child %s was handed out", revoked.Key)
		}
		if time.Since(start) > revokedWithin {
			t.Fatalf("the revoked child %s was still handed out %v after its revocation", revoked.Key, revokedWithin)
		}
	}
}
