package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// A commit whose answer is lost may still be under way: here it waits for
// a synchronous standby that is down, made locally but not yet visible, as
// a commit waiting for a slow flush would be. mintSession must not take
// "no row yet" for "never recorded" and delete the token from Redis, which
// would leave the session's row and history without their Redis entry once
// the commit ends: it asks only once the unit of work's lock is free, as
// the service's clean-up does.
func TestMintSessionCommitStillUnderWayIsNotTakenForLost(t *testing.T) {
	srv := integration.StartPostgresServer(t)
	ctx := context.Background()
	db, closeDB, err := postgres.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Every commit from now on waits for a standby that never comes.
	if _, err := db.ExecContext(ctx, "ALTER SYSTEM SET synchronous_standby_names = 'nobody'"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the reload is asynchronous
	logger := slog.New(slog.DiscardHandler)
	repo := postgres.NewTokenRepository(db, logger)
	client, closeRedis, err := redis.NewClient(ctx, integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRedis)
	store, err := redis.NewTokenStore(client, newSessionSecret(t), memory.SystemClock{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	watched := storeRecorder{TokenStore: store, key: &stored}

	// The commit's answer is lost at the deadline; the standby's wait ends
	// a little later (an operator cancels it, or the standby comes back).
	mctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	go func() {
		time.Sleep(2 * time.Second)
		_, _ = db.ExecContext(ctx, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
	}()
	_, mintErr := mintSession(mctx, watched, repo, time.Now(), sessionRequest{username: "commituser", lifetime: time.Hour})
	t.Cleanup(func() { _ = store.Delete(context.Background(), stored) })
	var recorded bool
	for range 100 {
		if recorded, err = repo.TokenExists(ctx, stored); err == nil && recorded {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, getErr := store.GetByKey(ctx, stored)
	if getErr != nil && !errors.Is(getErr, ports.ErrNotFound) {
		t.Fatal(getErr)
	}
	if inRedis := getErr == nil; recorded != inRedis {
		t.Errorf("session token %s: row committed %v, in Redis %v: the stores disagree (mintSession: %v)",
			stored, recorded, inRedis, mintErr)
	}
}

// storeRecorder notes the key of the token stored.
type storeRecorder struct {
	ports.TokenStore
	key *string
}

func (s storeRecorder) Store(ctx context.Context, d domain.TokenData) error {
	*s.key = d.Token.Key
	return s.TokenStore.Store(ctx, d)
}
