package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
	"github.com/tokencache/tokencache/ports"
)

// TokenStore keeps token data in Redis exactly as Gafaelfawr does, so that
// either can read what the other wrote. It is safe for concurrent use.
type TokenStore struct {
	client goredis.UniversalClient
	sealer *fernetbox.Box
	clock  ports.Clock
	logger *slog.Logger
	cache  *ClientCache // nil: every read goes to Redis
	acks   replicaAcks  // see WithReplicaAcks
}

var (
	_ ports.TokenStore       = (*TokenStore)(nil)
	_ ports.LocalTokenReader = (*TokenStore)(nil)
)

// StoreOption changes how NewTokenStore makes a store.
type StoreOption func(*TokenStore) error

// WithClientCache serves reads the store made before from cache, which
// Redis keeps current (see ClientCache), instead of asking Redis each
// time. A cache serves one store only: its entries are decrypted with
// that store's secret.
func WithClientCache(cache *ClientCache) StoreOption {
	return func(s *TokenStore) error {
		if cache == nil {
			return errors.New("client cache is nil")
		}
		if !cache.attached.CompareAndSwap(false, true) {
			return errors.New("client cache already serves another token store")
		}
		s.cache = cache
		return nil
	}
}

// NewTokenStore returns a store that keeps token data in client, sealed
// with sessionSecret (Gafaelfawr's session secret: base64 of 32 bytes, as
// made by Python's Fernet.generate_key() and read by fernetbox.New). It reads time from
// clock and logs unreadable entries to logger. Without options every read
// goes to Redis. Its errors never contain the secret.
func NewTokenStore(client goredis.UniversalClient, sessionSecret string, clock ports.Clock, logger *slog.Logger, opts ...StoreOption) (*TokenStore, error) {
	switch {
	case client == nil:
		return nil, errors.New("creating redis token store: client is nil")
	case clock == nil:
		return nil, errors.New("creating redis token store: clock is nil")
	case logger == nil:
		return nil, errors.New("creating redis token store: logger is nil")
	}
	s, err := fernetbox.New(sessionSecret)
	if err != nil {
		return nil, fmt.Errorf("creating redis token store: %w", err)
	}
	store := &TokenStore{client: client, sealer: s, clock: clock, logger: logger}
	for _, opt := range opts {
		if err := opt(store); err != nil {
			return nil, fmt.Errorf("creating redis token store: %w", err)
		}
	}
	return store, nil
}

// Get returns the data of token, or ports.ErrNotFound if no live token has
// its key, its secret does not match, or its entry cannot be read.
func (s *TokenStore) Get(ctx context.Context, token domain.Token) (domain.TokenData, error) {
	data, err := s.GetByKey(ctx, token.Key)
	if err != nil {
		return domain.TokenData{}, err
	}
	if !data.Token.SecretMatches(token) {
		// Gafaelfawr logs this too: it may be someone guessing secrets.
		s.logger.WarnContext(ctx, "token secret does not match", "token_key", token.Key)
		return domain.TokenData{}, notFound(token.Key)
	}
	return data, nil
}

// GetByKey returns the data of the live token with that key, or
// ports.ErrNotFound if there is none or its entry cannot be read. An
// unreadable entry is logged as an error.
func (s *TokenStore) GetByKey(ctx context.Context, key string) (domain.TokenData, error) {
	if s.cache != nil {
		return s.getCached(ctx, key)
	}
	value, err := s.client.Get(ctx, redisKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return domain.TokenData{}, notFound(key)
	}
	if err != nil {
		return domain.TokenData{}, fmt.Errorf("reading token %s from redis: %w", key, err)
	}
	data, _, _, err := s.open(ctx, key, value)
	return data, err
}

// open decrypts and decodes value, read from Redis under key, and returns
// the data, the JSON's length and whether the data reads differently at
// another time (see decodeToken). An entry that cannot be read is logged
// and not found.
func (s *TokenStore) open(ctx context.Context, key string, value []byte) (domain.TokenData, int, bool, error) {
	plain := s.sealer.Open(value)
	if plain == nil {
		s.logger.ErrorContext(ctx, "cannot decrypt token data in redis", "token_key", key)
		return domain.TokenData{}, 0, false, notFound(key)
	}
	now := s.clock.Now()
	data, readsAsNow, err := decodeToken(plain, key, now)
	if err != nil {
		s.logger.ErrorContext(ctx, "cannot parse token data in redis", "token_key", key, "error", err)
		return domain.TokenData{}, 0, false, notFound(key)
	}
	// Redis ends the entry at expiry by its own clock; this makes the
	// store agree with ours, whichever runs ahead.
	if !data.Expires.IsZero() && !now.Before(data.Expires) {
		return domain.TokenData{}, 0, false, notFound(key)
	}
	return data, len(plain), readsAsNow, nil
}

// Store writes data under its token's key, replacing any entry, to expire
// from Redis after the whole seconds from the current second to
// data.Expires (never, if that is zero), as Gafaelfawr counts them. It
// writes nothing and fails if that is under a second, since Redis refuses
// an expiry of 0 seconds, or if Gafaelfawr could not
// read data back (such as a service name over 64 characters). A failed
// write may have been done all the same (a lost reply, or too few replica
// acknowledgements: see WithReplicaAcks).
func (s *TokenStore) Store(ctx context.Context, data domain.TokenData) error {
	key := data.Token.Key
	var ttl time.Duration // 0: no expiry
	if !data.Expires.IsZero() {
		// Gafaelfawr's TTL: its clock rounded down to the second, so that
		// a child made in second T and expiring at T + lifetime lives in
		// Redis for the whole lifetime, up to a second past its expiry,
		// which every read checks.
		ttl = data.Expires.Sub(s.clock.Now().Truncate(time.Second)).Truncate(time.Second)
		if ttl < time.Second {
			return fmt.Errorf("storing token %s: it expires within the current second", key)
		}
	}
	if err := data.CheckStorable(); err != nil {
		return fmt.Errorf("storing token %s: %w", key, err)
	}
	plain, err := encodeTokenData(data)
	if err != nil {
		return fmt.Errorf("encoding token %s: %w", key, err)
	}
	value, err := s.sealer.Seal(plain)
	if err != nil {
		return fmt.Errorf("encrypting token %s: %w", key, err)
	}
	// A whole number of seconds makes go-redis send EX, as Gafaelfawr does.
	err = s.set(ctx, redisKey(key), value, ttl)
	s.forget(key) // even on failure: the write may have been done
	if err != nil {
		return fmt.Errorf("storing token %s in redis: %w", key, err)
	}
	return nil
}

// Delete removes the token with that key. Deleting a missing token is not
// an error. With replica acknowledgements on (WithReplicaAcks), a delete
// that too few replicas acknowledge fails with ErrNotReplicated, though
// done on the master: a failover could bring the entry back, so the
// caller tries again.
func (s *TokenStore) Delete(ctx context.Context, key string) error {
	err := s.del(ctx, redisKey(key))
	s.forget(key) // even on failure: the delete may have been done
	if err != nil {
		return fmt.Errorf("deleting token %s from redis: %w", key, err)
	}
	return nil
}

func notFound(key string) error {
	return fmt.Errorf("token %s: %w", key, ports.ErrNotFound)
}

func redisKey(key string) string {
	return "token:" + key
}
