package app_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// The in-memory composition hands out children once its caller has
// recorded the parent in the stores it returns, as Gafaelfawr records a
// session in its own.
func TestInitializeInMemoryStoresHandsOutChildren(t *testing.T) {
	mem, cleanup, err := app.InitializeInMemoryStores(app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx := context.Background()
	parent := addMemoryParent(t, mem)

	child, err := mem.Service.GetNotebookToken(ctx, parent, "192.0.2.1", 0)
	if err != nil {
		t.Fatalf("GetNotebookToken: %v", err)
	}
	data, err := mem.Store.Get(ctx, child)
	if err != nil {
		t.Fatalf("the child is not in the returned store: %v", err)
	}
	if data.Type != domain.TokenTypeNotebook || data.Username != "alice" {
		t.Errorf("child %v, want alice's notebook token", data)
	}
	again, err := mem.Service.GetNotebookToken(ctx, parent, "192.0.2.1", 0)
	if err != nil || again != child {
		t.Errorf("second request: %v, %v; want the same child", err, again == child)
	}
}

// addMemoryParent records a session of alice in mem's stores, as Gafaelfawr
// records one in its own, and returns it.
func addMemoryParent(t *testing.T, mem app.InMemory) domain.TokenData {
	t.Helper()
	ctx := context.Background()
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	parent := domain.TokenData{
		Token: token, Username: "alice", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all"}, Created: now, Expires: now.Add(time.Hour),
	}
	if err := mem.Store.Store(ctx, parent); err != nil {
		t.Fatal(err)
	}
	tx, err := mem.Repository.Begin(ctx, "parent of alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: parent, Actor: "alice", IPAddress: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	return parent
}
