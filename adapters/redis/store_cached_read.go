package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
)

// GetLocal returns the data of token as Get would, when the client cache
// holds a copy it may serve now; otherwise false, counting no miss: the
// Get that follows counts it. It does no I/O. A secret that does not match
// is false too, so that Get logs it.
func (s *TokenStore) GetLocal(ctx context.Context, token domain.Token) (domain.TokenData, bool) {
	if s.cache == nil || ctx.Err() != nil {
		return domain.TokenData{}, false
	}
	data, ok := s.cache.getHeld(token.Key, s.clock.Now())
	if !ok || !data.Token.SecretMatches(token) {
		return domain.TokenData{}, false
	}
	s.cache.hits.Add(1)
	return data, true
}

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
	data, until, size, server, err := s.readForCache(ctx, key, now)
	// On Sentinel, only a value read from the server the link is on:
	// another may be an old master that the link hears nothing from.
	keep := err == nil && (until.IsZero() || now.Before(until)) && server == ticket.server
	s.cache.endFill(ticket, keep, data, until, size)
	return data, err
}

// readForCache reads key's entry and its time to live in one round trip,
// and returns its data, when the copy kept in the cache must go (the
// token's expiry or the entry's, whichever is first; zero for neither),
// the entry's estimated size and, on Sentinel, the run_id of the server
// that answered ("" if unknown). The run_id comes in the same round trip,
// from a few hundred bytes of INFO server: the connection the pipeline
// takes is go-redis's choice, which the store cannot see.
func (s *TokenStore) readForCache(ctx context.Context, key string, now time.Time) (domain.TokenData, time.Time, int64, string, error) {
	var get *goredis.StringCmd
	var pttl *goredis.DurationCmd
	var info *goredis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, redisKey(key))
		pttl = p.PTTL(ctx, redisKey(key))
		if s.cache.sentinel != nil {
			info = p.Info(ctx, "server")
		}
		return nil
	})
	if errors.Is(get.Err(), goredis.Nil) {
		return domain.TokenData{}, time.Time{}, 0, "", notFound(key)
	}
	// A failed PTTL (a user allowed only what Gafaelfawr needs may not run
	// it) or INFO only keeps the value from being kept.
	if get.Err() != nil {
		// The pipeline's error says best why: a deadline, say, where the
		// command's says only "i/o timeout".
		return domain.TokenData{}, time.Time{}, 0, "", fmt.Errorf("reading token %s from redis: %w", key, cmp.Or(err, get.Err()))
	}
	value, _ := get.Bytes()
	data, n, readsAsNow, err := s.open(ctx, key, value)
	if err != nil {
		return domain.TokenData{}, time.Time{}, 0, "", err
	}
	until := data.Expires
	switch ttl := pttl.Val(); {
	case readsAsNow: // what this read made of it, not what Redis holds
		until = now
	case pttl.Err() != nil: // its life in Redis unknown: not to be kept
		until = now
	case ttl >= 0:
		// PTTL counts from Redis's clock truncated to the millisecond: the
		// key may have up to a millisecond less than it answers (0: its
		// last millisecond, not to be kept).
		if end := now.Add(ttl - time.Millisecond); until.IsZero() || end.Before(until) {
			until = end
		}
	case ttl == -2*time.Nanosecond: // gone since the GET: not to be kept
		until = now
	}
	var server string
	if info != nil && info.Err() == nil {
		server = runID(info.Val())
	}
	return data, until, entrySize(n, &data), server, nil
}

// forget drops key from the client cache, if there is one, after this
// store changed it: the invalidation Redis sends would do it too, but
// later.
func (s *TokenStore) forget(key string) {
	if s.cache != nil {
		s.cache.invalidate(key)
	}
}
