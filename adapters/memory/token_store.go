package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// TokenStore keeps token data in a map, each entry expiring, as in Redis,
// at its token's expiry by the store's clock.
type TokenStore struct {
	clock   ports.Clock
	mu      sync.RWMutex
	entries map[string]domain.TokenData
	sweepAt int // len(entries) at which Store next drops expired entries
}

// minSweep is the fewest entries worth sweeping for.
const minSweep = 1024

var _ ports.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns an empty store that reads time from clock.
func NewTokenStore(clock ports.Clock) *TokenStore {
	return &TokenStore{clock: clock, entries: make(map[string]domain.TokenData)}
}

// Get returns the data of token, or ports.ErrNotFound if it is missing,
// expired, or its secret does not match.
func (s *TokenStore) Get(ctx context.Context, token domain.Token) (domain.TokenData, error) {
	data, err := s.GetByKey(ctx, token.Key)
	if err != nil {
		return domain.TokenData{}, err
	}
	if !data.Token.SecretMatches(token) {
		return domain.TokenData{}, fmt.Errorf("token %s: %w", token.Key, ports.ErrNotFound)
	}
	return data, nil
}

// GetByKey returns the data of the live token with that key, or
// ports.ErrNotFound.
func (s *TokenStore) GetByKey(ctx context.Context, key string) (domain.TokenData, error) {
	if err := ctx.Err(); err != nil {
		return domain.TokenData{}, fmt.Errorf("reading token %s: %w", key, err)
	}
	s.mu.RLock()
	data, ok := s.entries[key]
	s.mu.RUnlock()
	if !ok || expired(data, s.clock.Now()) {
		return domain.TokenData{}, fmt.Errorf("token %s: %w", key, ports.ErrNotFound)
	}
	return data.Clone(), nil
}

// Store writes data under its key until it expires. Like the Redis store,
// it refuses a token with less than a second to live counted from the
// current second, as Gafaelfawr counts its TTL.
func (s *TokenStore) Store(ctx context.Context, data domain.TokenData) error {
	key := data.Token.Key
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storing token %s: %w", key, err)
	}
	if !data.Expires.IsZero() && data.Expires.Sub(s.clock.Now().Truncate(time.Second)) < time.Second {
		return fmt.Errorf("storing token %s: it expires within the current second", key)
	}
	// As Redis's store refuses it: a program tested on this store must
	// not write there what Gafaelfawr cannot read.
	if err := data.CheckStorable(); err != nil {
		return fmt.Errorf("storing token %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Expired entries are invisible but would otherwise stay for ever: the
	// daemon's default store would grow with every child it ever made.
	// Sweeping when the map has doubled keeps it within twice the live
	// entries at a constant cost per Store.
	if len(s.entries) >= s.sweepAt {
		s.dropExpired(s.clock.Now())
		s.sweepAt = max(2*len(s.entries), minSweep)
	}
	s.entries[key] = stored(data)
	return nil
}

// stored is data as Redis gives it back: scopes canonical, times in whole
// seconds (Gafaelfawr's format holds Unix seconds), in UTC.
func stored(data domain.TokenData) domain.TokenData {
	d := data.Clone()
	d.Scopes = domain.CanonicalScopes(data.Scopes)
	d.Created = wholeSeconds(data.Created)
	d.Expires = wholeSeconds(data.Expires)
	return d
}

// wholeSeconds is t in whole seconds in UTC, as both of Gafaelfawr's
// stores keep times; the zero time stays zero.
func wholeSeconds(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// dropExpired deletes the entries expired at now. The caller holds s.mu.
func (s *TokenStore) dropExpired(now time.Time) {
	for key, data := range s.entries {
		if expired(data, now) {
			delete(s.entries, key)
		}
	}
}

// Delete removes the token with that key, if any.
func (s *TokenStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deleting token %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
	return nil
}

// Len is the number of live tokens, for tests and health checks.
func (s *TokenStore) Len() int {
	now := s.clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, data := range s.entries {
		if !expired(data, now) {
			n++
		}
	}
	return n
}

func expired(data domain.TokenData, now time.Time) bool {
	return !data.Expires.IsZero() && !now.Before(data.Expires)
}
