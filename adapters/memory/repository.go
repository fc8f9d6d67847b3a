package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/keylock"
	"github.com/tokencache/tokencache/ports"
)

// HistoryEntry is one row of the change history.
type HistoryEntry struct {
	Token     string
	Username  string
	Type      domain.TokenType
	ParentKey string
	Scopes    []string
	Service   string
	Expires   time.Time
	Actor     string
	Action    string
	IPAddress string
	EventTime time.Time
}

// Repository keeps token rows, parent links and change history in memory.
// Units of work hold a lock per name, as PostgreSQL's advisory locks do,
// and apply their additions all at once on commit.
//
// Children are indexed by what a lookup matches on, so that finding one
// costs the same however many other children its parent has, and by
// creation time, for counting. Rows of expired tokens are dropped with
// their links and history, as Gafaelfawr's maintenance deletes them from
// PostgreSQL (where it keeps the history): a commit that finds the rows
// doubled since the last sweep sweeps them, so the repository holds at
// most about twice its live tokens, at a constant cost per commit. Times
// are kept in whole seconds, as PostgreSQL's columns keep them.
type Repository struct {
	clock ports.Clock
	locks keylock.Table

	mu       sync.RWMutex
	tokens   map[string]domain.TokenData // token rows, secrets removed
	children map[string][]childRef       // parent key -> children, by creation
	lookups  map[lookupKey][]string      // what FindChild matches on -> child keys
	history  map[string][]HistoryEntry   // token key -> its entries, oldest first
	sweepAt  int                         // len(tokens) at which a commit next sweeps
}

var _ ports.TokenRepository = (*Repository)(nil)

// NewRepository returns an empty repository that drops tokens once they
// have expired by the real time.
func NewRepository() *Repository {
	return NewRepositoryWithClock(SystemClock{})
}

// NewRepositoryWithClock returns an empty repository that drops tokens once
// they have expired by clock.
func NewRepositoryWithClock(clock ports.Clock) *Repository {
	return &Repository{
		clock:    clock,
		tokens:   make(map[string]domain.TokenData),
		children: make(map[string][]childRef),
		lookups:  make(map[lookupKey][]string),
		history:  make(map[string][]HistoryEntry),
	}
}

// Begin waits for the lock named lock, or for ctx to end, and starts a unit
// of work holding it.
//
// As a PostgreSQL transaction does, the unit of work ends when ctx does:
// its lock is released and it can no longer be used.
func (r *Repository) Begin(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	// Checked first: with the lock free too, Lock could take either.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("waiting for repository lock: %w", err)
	}
	unlock, err := r.locks.Lock(ctx, string(lock))
	if err != nil {
		return nil, fmt.Errorf("waiting for repository lock: %w", err)
	}
	tx := &repositoryTx{repo: r, ctx: ctx, unlock: unlock}
	tx.stop = context.AfterFunc(ctx, tx.finish)
	return tx, nil
}

// BeginDeferred is Begin: the lock is taken at once.
func (r *Repository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	return r.Begin(ctx, lock)
}

// TokenExists reports whether a token with that key is committed.
func (r *Repository) TokenExists(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("looking up token %s: %w", key, err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.tokens[key]
	return ok, nil
}

// Children returns the keys of parentKey's children, sorted.
func (r *Repository) Children(parentKey string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	refs := r.children[parentKey]
	keys := make([]string, len(refs))
	for i, c := range refs {
		keys[i] = c.key
	}
	slices.Sort(keys)
	return keys
}

// Token returns the stored row of the token with that key. Rows hold no
// secret.
func (r *Repository) Token(key string) (domain.TokenData, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	data, ok := r.tokens[key]
	return data.Clone(), ok
}

// History returns the change history entries of the token with that key,
// oldest first.
func (r *Repository) History(key string) []HistoryEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.history[key])
}

// Len is the number of token rows, including those of expired tokens not
// yet swept.
func (r *Repository) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tokens)
}

// hasToken reports whether key is committed or among pending.
func (r *Repository) hasToken(key string, pending []domain.TokenRecord) bool {
	r.mu.RLock()
	_, ok := r.tokens[key]
	r.mu.RUnlock()
	return ok || slices.ContainsFunc(pending, func(rec domain.TokenRecord) bool { return rec.Data.Token.Key == key })
}

// apply adds the records of a committed unit of work, all or none, first
// sweeping expired rows if they may be many.
func (r *Repository) apply(recs []domain.TokenRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		if _, dup := r.tokens[rec.Data.Token.Key]; dup {
			return fmt.Errorf("adding token %s: a token with that key exists", rec.Data.Token.Key)
		}
	}
	if len(r.tokens) >= r.sweepAt {
		r.dropExpired(r.clock.Now())
		r.sweepAt = max(2*len(r.tokens), minSweep)
	}
	for _, rec := range recs {
		r.add(rec)
	}
	return nil
}

// add stores one record's row, parent link and history entry. The caller
// holds r.mu.
func (r *Repository) add(rec domain.TokenRecord) {
	data := rec.Data.Clone()
	key := data.Token.Key
	data.Token.Secret = ""
	// PostgreSQL's columns hold whole seconds.
	data.Created, data.Expires = wholeSeconds(data.Created), wholeSeconds(data.Expires)
	r.tokens[key] = data
	if rec.ParentKey != "" {
		r.link(rec.ParentKey, data)
	}
	r.history[key] = append(r.history[key], HistoryEntry{
		Token:     key,
		Username:  data.Username,
		Type:      data.Type,
		ParentKey: rec.ParentKey,
		Scopes:    data.Scopes,
		Service:   data.Service,
		Expires:   data.Expires,
		Actor:     rec.Actor,
		Action:    "create",
		IPAddress: rec.IPAddress,
		EventTime: data.Created,
	})
}
