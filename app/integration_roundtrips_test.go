package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/internal/pgcount"
)

// The PostgreSQL round trips of one creation and of one repository lookup,
// counted on the wire between the composed service and the real database:
// each is a wait for the server, which no amount of speed in this process
// can hide.
//
// Once its connection has prepared the statements, a creation sends
// BEGIN, the lock and a statement that looks for an existing child and
// counts the parent's recent children in one message (1), writes the
// three rows in one statement (1), while it writes the child to Redis, and
// commits (1). A lookup that finds a child takes the lock and looks, then
// rolls back.
func TestIntegrationRoundTripsPerRequest(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	u, err := url.Parse(e.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := pgcount.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	u.Host = proxy.Addr()
	cfg := e.cfg
	cfg.DatabaseURL = u.String()
	// One connection, on which the warm-up prepares the statements.
	cfg.DatabaseMaxConnections = 1
	svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err != nil {
		t.Fatalf("InitializeTokenCacheService: %v", err)
	}
	t.Cleanup(cleanup)

	p := e.addParent(t, 7*24*time.Hour)
	create := func(t *testing.T, service string) {
		t.Helper()
		if _, err := svc.GetInternalToken(ctx, p, service, []string{"read:all"}, "192.0.2.1", 0); err != nil {
			t.Fatal(err)
		}
	}
	create(t, "warm-up") // opens the pool's connection

	const (
		wantCreation = 3
		wantLookup   = 2
	)
	for i, service := range []string{"portal", "tap", "sia"} {
		before := proxy.Counts()
		create(t, service)
		if got := proxy.Counts().Sub(before); got.RoundTrips() != wantCreation {
			t.Errorf("creation %d: %v, want %d round trips", i+1, got, wantCreation)
		} else if i == 0 {
			t.Logf("creation: %v", got)
		}
	}

	if err := svc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	before := proxy.Counts()
	create(t, "portal") // found in the repository, not made anew
	if got := proxy.Counts().Sub(before); got.RoundTrips() != wantLookup {
		t.Errorf("repository lookup: %v, want %d round trips", got, wantLookup)
	} else {
		t.Logf("repository lookup: %v", got)
	}
	if n := e.children(t, p.Token.Key); n != 4 {
		t.Errorf("%d children in the repository, want 4 (the lookup made none)", n)
	}
}
