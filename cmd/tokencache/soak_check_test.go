package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/lib/pq"
)

// soakGroup is what one child at a time may serve: the daemon reuses it
// for every request of its parent and kind.
type soakGroup struct{ parent, tokenType, service, scopes string }

// soakChild is a child's row in PostgreSQL, linked to a soak parent.
type soakChild struct {
	key   string
	group soakGroup
}

// parentKeys are the keys of the soak's parents.
func (r *soakRun) parentKeys() []string {
	keys := make([]string, len(r.parents))
	for i, p := range r.parents {
		keys[i] = p.token.Key
	}
	return keys
}

// children reads every child that PostgreSQL links to a soak parent.
func (r *soakRun) children(ctx context.Context) ([]soakChild, error) {
	rows, err := r.stores.db.QueryContext(ctx, `SELECT t.token, s.parent, t.token_type, coalesce(t.service, ''), t.scopes
		FROM subtoken s JOIN token t ON t.token = s.child WHERE s.parent = ANY($1)`, pq.Array(r.parentKeys()))
	if err != nil {
		return nil, fmt.Errorf("reading the children: %w", err)
	}
	defer rows.Close()
	var out []soakChild
	for rows.Next() {
		var c soakChild
		if err := rows.Scan(&c.key, &c.group.parent, &c.group.tokenType, &c.group.service, &c.group.scopes); err != nil {
			return nil, fmt.Errorf("reading the children: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the children: %w", err)
	}
	return out, nil
}

// soakDuplicate is a group found with more than one live child.
type soakDuplicate struct {
	live    []string // keys of the children not revoked
	revoked int      // children revoked before
}

// checkpoint records every group with more than one child not revoked.
// The caller holds storeMu, so no revocation runs meanwhile.
func (r *soakRun) checkpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), soakStoreTimeout)
	defer cancel()
	children, err := r.children(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkpoints++
	groups := map[soakGroup]*soakDuplicate{}
	for _, c := range children {
		g := groups[c.group]
		if g == nil {
			g = &soakDuplicate{}
			groups[c.group] = g
		}
		if _, revoked := r.childRevoked[c.key]; revoked {
			g.revoked++
		} else {
			g.live = append(g.live, c.key)
		}
	}
	for key, g := range groups {
		if len(g.live) > 1 {
			r.duplicates[key] = *g
		}
	}
	return nil
}

// incompleteChildren finds children of the soak's users whose rows lack
// the link to a parent or the history entry of their creation.
func (r *soakRun) incompleteChildren(ctx context.Context) ([]string, error) {
	users := make([]string, len(r.parents))
	for i, p := range r.parents {
		users[i] = p.user
	}
	rows, err := r.stores.db.QueryContext(ctx, `SELECT t.token,
			EXISTS (SELECT 1 FROM subtoken s WHERE s.child = t.token),
			EXISTS (SELECT 1 FROM token_change_history h WHERE h.token = t.token AND h.action = 'create')
		FROM token t WHERE t.username = ANY($1) AND t.token <> ALL($2)`, pq.Array(users), pq.Array(r.parentKeys()))
	if err != nil {
		return nil, fmt.Errorf("reading the users' tokens: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var key string
		var linked, created bool
		if err := rows.Scan(&key, &linked, &created); err != nil {
			return nil, fmt.Errorf("reading the users' tokens: %w", err)
		}
		if !linked || !created {
			out = append(out, fmt.Sprintf("child %s has a token row but linked to a parent %t, history of its creation %t", key, linked, created))
		}
	}
	return out, rows.Err()
}

// redisKeys returns every token key in the soak's Redis, without the
// "token:" prefix.
func (r *soakRun) redisKeys(ctx context.Context) (map[string]bool, error) {
	keys := map[string]bool{}
	iter := r.revoker.Scan(ctx, 0, "token:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys[strings.TrimPrefix(iter.Val(), "token:")] = true
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scanning Redis: %w", err)
	}
	return keys, nil
}

// orphans scans both stores, once the daemons have stopped, for a child
// in one and not the other: a child key in Redis without its rows, rows
// that are incomplete, and a child not revoked whose Redis key is gone.
func (r *soakRun) orphans(ctx context.Context, children []soakChild) ([]string, error) {
	inRedis, err := r.redisKeys(ctx)
	if err != nil {
		return nil, err
	}
	out, err := r.incompleteChildren(ctx)
	if err != nil {
		return nil, err
	}
	rows := map[string]bool{}
	for _, c := range children {
		rows[c.key] = true
		if _, revoked := r.childRevoked[c.key]; !revoked && !inRedis[c.key] {
			out = append(out, fmt.Sprintf("child %s of a %s request has rows but no Redis key, and was never revoked", c.key, c.group.tokenType))
		}
	}
	for _, p := range r.parents {
		delete(inRedis, p.token.Key)
	}
	for key := range inRedis {
		if !rows[key] {
			out = append(out, fmt.Sprintf("child %s is in Redis without rows in PostgreSQL", key))
		}
	}
	return out, nil
}

// healthy asks a daemon's /healthz.
func healthy(d *daemon) error {
	resp, err := http.Get(d.base + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz = %d, want 200", resp.StatusCode)
	}
	return nil
}
