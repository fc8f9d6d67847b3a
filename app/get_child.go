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
// find the lock taken wait for its holder and take the holder's outcome,
// all at once, rather than queueing for the lock one by one or each
// reading the stores again; one whose request the holder's child does not
// meet looks for itself.
func (s *TokenCacheService) getChild(ctx context.Context, req domain.ChildRequest) (domain.Token, error) {
	if err := req.Validate(s.clock.Now(), s.lifetime); err != nil {
		return domain.Token{}, err
	}
	key := req.CacheKey()
	var rejected domain.Token
	for attempt := 0; ; attempt++ {
		token, _, ok, err := s.fromCache(ctx, req, key, rejected)
		if err != nil || ok {
			return token, err
		}
		if attempt == 0 {
			s.observer.CacheMiss(req.Type)
		}
		rejected = token
		unlock, held, err := s.flights.LockOrWait(ctx, string(key))
		if err != nil {
			return domain.Token{}, fmt.Errorf("waiting for another request for the same %s token: %w", req.Type, err)
		}
		if unlock != nil {
			return s.runLocked(ctx, req, key, rejected, unlock)
		}
		if token, ok, err := s.takeShared(req, held); ok {
			return token, err
		}
		if held != nil && held.child.Token != (domain.Token{}) {
			// Just read or written, and found wanting: the cache holds
			// it now, and reading it again would find the same.
			rejected = held.child.Token
		}
	}
}

// getChildLocked runs holding the child's lock, detached from the caller
// (see runLocked). Whoever held the lock before may have just cached the
// child, so it looks in the cache once more.
func (s *TokenCacheService) getChildLocked(ctx context.Context, req domain.ChildRequest, key domain.CacheKey, rejected domain.Token) outcome {
	if _, child, ok, err := s.fromCache(ctx, req, key, rejected); err != nil || ok {
		return outcome{child: child, err: err}
	}
	return s.findOrCreate(ctx, req, key)
}

// fromCache looks for the child cached for key. It returns the cached
// token, if any; and, if the token store still holds that child and it
// passes the rules, so that it may be reused for req, the child as the
// token store holds it and true. A cached child equal to rejected was
// already found wanting and is not read again.
func (s *TokenCacheService) fromCache(ctx context.Context, req domain.ChildRequest, key domain.CacheKey, rejected domain.Token) (domain.Token, domain.TokenData, bool, error) {
	token, ok := s.cacheFor(req.Type).Get(key)
	if !ok || token == rejected {
		return token, domain.TokenData{}, false, nil
	}
	data, err := s.store.Get(ctx, token)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return token, domain.TokenData{}, false, nil
	case err != nil:
		return domain.Token{}, domain.TokenData{}, false, s.storeFailed(ctx, "token_store.get",
			fmt.Errorf("reading cached %s token %s: %w", req.Type, token.Key, err))
	}
	if !req.Reusable(data, s.clock.Now(), s.lifetime) {
		return token, domain.TokenData{}, false, nil
	}
	s.observer.CacheHit(req.Type)
	return token, data, true, nil
}

// storeFailed reports a store failure to the observer, unless it happened
// only because the caller gave up, and returns err. Work detached from its
// caller (runLocked) has a context that ends only when its creation
// timeout runs out: then the store was too slow, and that counts.
func (s *TokenCacheService) storeFailed(ctx context.Context, operation string, err error) error {
	if ctx.Err() == nil || errors.Is(context.Cause(ctx), errCreationTimeout) {
		s.observer.StoreError(operation)
	}
	return err
}
