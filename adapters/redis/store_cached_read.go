package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
)

// getCached is GetByKey through the client cache: a copy of the data kept
// from an earlier read if there is one, else a read from Redis, whose data
// is kept if the cache's link vouches for it.
func (s *TokenStore) getCached(ctx context.Context, key string) (domain.TokenData, error) {
	// As a read from Redis would, a cancelled call fails even on a hit.
	if err := ctx.Err(); err != nil {
		return domain.TokenData{}, fmt.Errorf("reading token %s: %w", key, err)
	}
	now := s.clock.Now()
	if data, ok := s.cache.get(key, now); ok {
		return data, nil
	}
	ticket := s.cache.beginFill(key)
	data, until, size, err := s.readForCache(ctx, key, now)
	keep := err == nil && (until.IsZero() || now.Before(until))
	s.cache.endFill(ticket, keep, data, until, size)
	return data, err
}

// readForCache reads key's entry and its time to live in one round trip,
// and returns its data, when the copy kept in the cache must go (the
// token's expiry or the entry's, whichever is first; zero for neither)
// and the entry's estimated size.
func (s *TokenStore) readForCache(ctx context.Context, key string, now time.Time) (domain.TokenData, time.Time, int64, error) {
	var get *goredis.StringCmd
	var pttl *goredis.DurationCmd
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, redisKey(key))
		pttl = p.PTTL(ctx, redisKey(key))
		return nil
	})
	if errors.Is(get.Err(), goredis.Nil) {
		return domain.TokenData{}, time.Time{}, 0, notFound(key)
	}
	if err != nil {
		return domain.TokenData{}, time.Time{}, 0, fmt.Errorf("reading token %s from redis: %w", key, err)
	}
	value, _ := get.Bytes()
	data, n, err := s.open(ctx, key, value)
	if err != nil {
		return domain.TokenData{}, time.Time{}, 0, err
	}
	until := data.Expires
	switch ttl := pttl.Val(); {
	case ttl > 0 && (until.IsZero() || now.Add(ttl).Before(until)):
		until = now.Add(ttl)
	case ttl == -2*time.Nanosecond: // gone since the GET: not to be kept
		until = now
	}
	return data, until, int64(n) + entryOverhead, nil
}

// forget drops key from the client cache, if there is one, after this
// store changed it: the invalidation Redis sends would do it too, but
// later.
func (s *TokenStore) forget(key string) {
	if s.cache != nil {
		s.cache.invalidate(key)
	}
}
