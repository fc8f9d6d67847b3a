package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// getChild is the whole decision: the cache, then under the child's lock
// the cache again, the repository, and finally a new child. Requests that
// find the lock taken wait for its holder and then look in the cache again,
// all at once, rather than queueing for the lock one by one.
func (s *TokenCacheService) getChild(ctx context.Context, req domain.ChildRequest) (domain.Token, error) {
	if err := req.Validate(s.clock.Now(), s.lifetime); err != nil {
		return domain.Token{}, err
	}
	key := req.CacheKey()
	var rejected domain.Token
	for attempt := 0; ; attempt++ {
		token, ok, err := s.fromCache(ctx, req, key, rejected)
		if err != nil || ok {
			return token, err
		}
		if attempt == 0 {
			s.observer.CacheMiss(req.Type)
		}
		rejected = token
		unlock, err := s.flights.LockOrWait(ctx, string(key))
		if err != nil {
			return domain.Token{}, fmt.Errorf("waiting for another request for the same %s token: %w", req.Type, err)
		}
		if unlock != nil {
			defer unlock()
			return s.getChildLocked(ctx, req, key, rejected)
		}
	}
}

// getChildLocked runs holding the child's lock. Whoever held it before may
// have just cached the child, so it looks in the cache once more.
func (s *TokenCacheService) getChildLocked(ctx context.Context, req domain.ChildRequest, key domain.CacheKey, rejected domain.Token) (domain.Token, error) {
	if token, ok, err := s.fromCache(ctx, req, key, rejected); err != nil || ok {
		return token, err
	}
	return s.findOrCreate(ctx, req, key)
}

// fromCache returns the child cached for key and whether it may be
// reused for req: the token store still holds it and it passes the rules.
// A cached child equal to rejected was already found wanting and is not
// read again.
func (s *TokenCacheService) fromCache(ctx context.Context, req domain.ChildRequest, key domain.CacheKey, rejected domain.Token) (domain.Token, bool, error) {
	token, ok := s.cacheFor(req.Type).Get(key)
	if !ok || token == rejected {
		return token, false, nil
	}
	data, err := s.store.Get(ctx, token)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return token, false, nil
	case err != nil:
		return domain.Token{}, false, s.storeFailed(ctx, "token_store.get",
			fmt.Errorf("reading cached %s token %s: %w", req.Type, token.Key, err))
	}
	if !req.Reusable(data, s.clock.Now(), s.lifetime) {
		return token, false, nil
	}
	s.observer.CacheHit(req.Type)
	return token, true, nil
}

// storeFailed reports a store failure to the observer, unless it happened
// only because the caller gave up, and returns err.
func (s *TokenCacheService) storeFailed(ctx context.Context, operation string, err error) error {
	if ctx.Err() == nil {
		s.observer.StoreError(operation)
	}
	return err
}
