package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// awaitLocal asks for p's child with get until the service can tell it
// without I/O, for up to a second, and returns it. A read is needed to
// fill the client cache, and the first may not (Redis's invalidation of
// the child's own write can arrive after it).
func awaitLocal(t *testing.T, get func() domain.Token, local func() (domain.Token, bool)) domain.Token {
	t.Helper()
	want := get() // may make the child, within the creation timeout
	start := time.Now()
	for {
		if got, ok := local(); ok {
			if got != want {
				t.Fatalf("served from memory %v; the store gives %v", got.Key, want.Key)
			}
			return got
		}
		if time.Since(start) > time.Second {
			t.Fatal("a child read again and again for a second was never held in memory")
		}
		want = get()
	}
}

// With the client cache on, the service tells without I/O the child
// GetInternalToken or GetNotebookToken would return, and only that: for
// any other request it says it cannot, for the stores to answer.
func TestIntegrationLocalChildIsTheOneTheStoresGive(t *testing.T) {
	t.Parallel()
	e := newRealEnvClientCache(t)
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	scopes := []string{"read:all"}
	localInternal := func() (domain.Token, bool) {
		return e.svc.LocalInternalToken(ctx, p, "portal", scopes, "192.0.2.1", 0)
	}

	if tok, ok := localInternal(); ok {
		t.Fatalf("a child never asked for was served from memory: %v", tok.Key)
	}
	child := awaitLocal(t,
		func() domain.Token { return e.internal(t, p, "portal", scopes) },
		localInternal)
	awaitLocal(t,
		func() domain.Token { return e.notebook(t, p) },
		func() (domain.Token, bool) { return e.svc.LocalNotebookToken(ctx, p, "192.0.2.1", 0) })

	for name, tc := range map[string]struct {
		service         string
		scopes          []string
		minimumLifetime time.Duration
	}{
		"other scopes":                {"portal", []string{"read:all", "exec:notebook"}, 0},
		"other service":               {"nublado", scopes, 0},
		"request the service refuses": {"portal", scopes, 48 * time.Hour},
	} {
		if tok, ok := e.svc.LocalInternalToken(ctx, p, tc.service, tc.scopes, "192.0.2.1", tc.minimumLifetime); ok {
			t.Errorf("%s: served %v from memory", name, tok.Key)
		}
	}

	if err := e.raw.Del(ctx, "token:"+child.Key).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		tok, ok := localInternal()
		if !ok {
			break
		}
		if tok != child {
			t.Fatalf("served %v from memory; want %v or nothing", tok.Key, child.Key)
		}
		if time.Since(start) > time.Second {
			t.Fatal("a child revoked a second ago is still served from memory")
		}
		time.Sleep(20 * time.Microsecond) // a poll, as a stream of requests makes
	}
	if fresh := e.internal(t, p, "portal", scopes); fresh == child {
		t.Fatal("the revoked child was handed out")
	}
}

// Without a client cache nothing is held in memory: every child comes from
// the stores, however often it was asked for.
func TestIntegrationLocalChildNeedsAClientCache(t *testing.T) {
	t.Parallel()
	mem, cleanup, err := app.InitializeInMemoryStores(app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	ctx := context.Background()
	parent := addMemoryParent(t, mem)
	for range 3 {
		if _, err := mem.Service.GetNotebookToken(ctx, parent, "192.0.2.1", 0); err != nil {
			t.Fatal(err)
		}
	}
	if tok, ok := mem.Service.LocalNotebookToken(ctx, parent, "192.0.2.1", 0); ok {
		t.Fatalf("served %v without a client cache", tok.Key)
	}
	e := newRealEnv(t)
	p := e.addParent(t, time.Hour)
	for range 3 {
		e.internal(t, p, "portal", []string{"read:all"})
	}
	if tok, ok := e.svc.LocalInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0); ok {
		t.Fatalf("served %v from a Redis store without a client cache", tok.Key)
	}
}
