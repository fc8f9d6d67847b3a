package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tokencache/tokencache/internal/integration"
)

// soakStoreTimeout bounds each of the test's own store commands.
const soakStoreTimeout = 30 * time.Second

// revokeLoop revokes a child, or every tenth time a parent, each time the
// workers ask, until the load stops. Before each revocation it checks for
// duplicates: a duplicate pair can only escape the final check if one of
// the two is revoked later, and this catches it just before.
//
// A revocation deletes keys from Redis only. Gafaelfawr's delete_token
// deletes each token from Redis first and its rows afterwards, in separate
// steps; the soak holds open the state between the two (rows still there,
// Redis key gone), which is also what Gafaelfawr's audit reports as "found
// in database but not Redis", and keeps the rows for the checks to read.
func (r *soakRun) revokeLoop() {
	rng := rand.New(rand.NewPCG(0, 8))
	for n := 1; ; n++ {
		select {
		case <-r.stop:
			return
		case <-r.tick:
		}
		r.storeMu.Lock()
		err := r.checkpoint()
		if err == nil {
			if n%soakParentEvery == 0 && len(r.parentRevoked) < r.cfg.parents/5 {
				err = r.revokeParent(rng)
			} else {
				err = r.revokeChild(rng)
			}
		}
		r.storeMu.Unlock()
		if err != nil {
			r.mu.Lock()
			r.harnessErrors = append(r.harnessErrors, err)
			r.mu.Unlock()
			return
		}
	}
}

// revokeChild deletes from Redis a child handed out earlier, not yet
// revoked, of a parent not revoked.
func (r *soakRun) revokeChild(rng *rand.Rand) error {
	r.mu.Lock()
	var key string
	for range 20 {
		if len(r.handedKeys) == 0 {
			break
		}
		k := r.handedKeys[rng.IntN(len(r.handedKeys))]
		_, revoked := r.childRevoked[k]
		_, parentRevoked := r.parentRevoked[r.handed[k].parent]
		if !revoked && !parentRevoked {
			key = k
			break
		}
	}
	r.mu.Unlock()
	if key == "" {
		return nil
	}
	rev, err := r.del("token:" + key)
	if err != nil {
		return fmt.Errorf("revoking a child: %w", err)
	}
	r.mu.Lock()
	r.childRevoked[key] = rev
	r.mu.Unlock()
	return nil
}

// revokeParent deletes a parent and, as Gafaelfawr does, the children the
// database links to it, in one DEL. A child created after the database
// was read stays: the parent's revocation began after its request did.
func (r *soakRun) revokeParent(rng *rand.Rand) error {
	r.mu.Lock()
	p := rng.IntN(len(r.parents))
	for _, revoked := r.parentRevoked[p]; revoked; _, revoked = r.parentRevoked[p] {
		p = (p + 1) % len(r.parents)
	}
	r.mu.Unlock()
	parent := r.parents[p].token.Key
	ctx, cancel := context.WithTimeout(context.Background(), soakStoreTimeout)
	defer cancel()
	var children []string
	err := r.stores.db.QueryRowContext(ctx, "SELECT array_agg(child) FROM subtoken WHERE parent = $1", parent).
		Scan(pq.Array(&children))
	if err != nil {
		return fmt.Errorf("children of a parent to revoke: %w", err)
	}
	keys := []string{"token:" + parent}
	for _, c := range children {
		keys = append(keys, "token:"+c)
	}
	rev, err := r.del(keys...)
	if err != nil {
		return fmt.Errorf("revoking a parent: %w", err)
	}
	r.mu.Lock()
	r.parentRevoked[p] = rev
	for _, c := range children {
		if _, ok := r.childRevoked[c]; !ok {
			r.childRevoked[c] = rev
		}
	}
	r.mu.Unlock()
	return nil
}

// del deletes keys from Redis and says when it asked and when Redis
// acknowledged.
func (r *soakRun) del(keys ...string) (revocation, error) {
	ctx, cancel := context.WithTimeout(context.Background(), soakStoreTimeout)
	defer cancel()
	rev := revocation{issued: time.Now()}
	if err := r.revoker.Del(ctx, keys...).Err(); err != nil {
		return rev, err
	}
	rev.acked = time.Now()
	return rev, nil
}

// outage kills Redis, keeps it down for cfg.outage while the load goes on,
// and starts it again on the same port and data. Revocations wait for it.
func (r *soakRun) outage(t *testing.T, srv *integration.RedisServer) {
	t.Helper()
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	r.killAt = time.Now()
	srv.Kill(t)
	select { // the outage's length: nothing to await
	case <-time.After(r.cfg.outage):
	case <-r.stop:
	}
	srv.Restart(t)
	r.upAt = time.Now()

	// The soak's verdict means nothing if the restart lost acknowledged
	// writes: the parents not revoked must all be back.
	ctx, cancel := context.WithTimeout(context.Background(), soakStoreTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.parents {
		if _, revoked := r.parentRevoked[i]; revoked {
			continue
		}
		if n, err := r.revoker.Exists(ctx, "token:"+p.token.Key).Result(); err != nil || n != 1 {
			t.Fatalf("after the restart, parent %d in Redis: exists %d, %v: the append-only file did not keep it", i, n, err)
		}
	}
}
