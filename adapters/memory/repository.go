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
type Repository struct {
	locks keylock.Table

	mu       sync.RWMutex
	tokens   map[string]domain.TokenData // token rows, secrets removed
	children map[string][]string         // parent key -> child keys
	history  []HistoryEntry
}

var _ ports.TokenRepository = (*Repository)(nil)

// NewRepository returns an empty repository.
func NewRepository() *Repository {
	return &Repository{
		tokens:   make(map[string]domain.TokenData),
		children: make(map[string][]string),
	}
}

// Begin waits for the lock named lock, or for ctx to end, and starts a unit
// of work holding it.
func (r *Repository) Begin(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	unlock, err := r.locks.Lock(ctx, string(lock))
	if err != nil {
		return nil, fmt.Errorf("waiting for repository lock: %w", err)
	}
	return &repositoryTx{repo: r, unlock: unlock}, nil
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
	keys := slices.Clone(r.children[parentKey])
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
	var out []HistoryEntry
	for _, h := range r.history {
		if h.Token == key {
			out = append(out, h)
		}
	}
	return out
}

// Len is the number of token rows.
func (r *Repository) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.tokens)
}

// findChild runs q over the committed rows plus pending, the additions of
// an uncommitted unit of work.
func (r *Repository) findChild(q domain.ChildQuery, pending []domain.TokenRecord) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best domain.TokenData
	found := false
	consider := func(data domain.TokenData, parent string) {
		if parent != q.ParentKey || !matches(data, q) {
			return
		}
		if !found || data.Expires.After(best.Expires) ||
			data.Expires.Equal(best.Expires) && data.Token.Key < best.Token.Key {
			best, found = data, true
		}
	}
	// Only the parent's own children: a lookup on every cache miss must not
	// scan every token ever made.
	for _, child := range r.children[q.ParentKey] {
		consider(r.tokens[child], q.ParentKey)
	}
	for _, rec := range pending {
		consider(rec.Data, rec.ParentKey)
	}
	if !found {
		return "", fmt.Errorf("child of %s: %w", q.ParentKey, ports.ErrNotFound)
	}
	return best.Token.Key, nil
}

func matches(data domain.TokenData, q domain.ChildQuery) bool {
	if data.Type != q.Type || data.Expires.IsZero() || data.Expires.Before(q.MinExpiration) {
		return false
	}
	if q.Type == domain.TokenTypeInternal {
		return data.Service == q.Service && slices.Equal(data.Scopes, q.Scopes)
	}
	return true
}

// hasToken reports whether key is committed or among pending.
func (r *Repository) hasToken(key string, pending []domain.TokenRecord) bool {
	r.mu.RLock()
	_, ok := r.tokens[key]
	r.mu.RUnlock()
	return ok || slices.ContainsFunc(pending, func(rec domain.TokenRecord) bool { return rec.Data.Token.Key == key })
}

// apply adds the records of a committed unit of work, all or none.
func (r *Repository) apply(recs []domain.TokenRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		if _, dup := r.tokens[rec.Data.Token.Key]; dup {
			return fmt.Errorf("adding token %s: a token with that key exists", rec.Data.Token.Key)
		}
	}
	for _, rec := range recs {
		data := rec.Data.Clone()
		key := data.Token.Key
		data.Token.Secret = ""
		r.tokens[key] = data
		if rec.ParentKey != "" {
			r.children[rec.ParentKey] = append(r.children[rec.ParentKey], key)
		}
		r.history = append(r.history, HistoryEntry{
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
	return nil
}
