package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// getChild is the whole decision: the cache, then under the child's lock
// the cache again, the repository, and finally a new child. Requests that
// find the lock taken wait for its holder and take the holder's outcome,
// all at once, rather than queueing for the lock one by one or each
// reading the stores again; one whose request the holder's child does not
// meet looks for itself.
func (s *TokenCacheService) getChild(ctx context.Context, req *domain.ChildRequest) (domain.Token, error) {
	if err := req.Validate(s.clock.Now(), s.lifetime); err != nil {
		return domain.Token{}, err
	}
	key := req.CacheKey()
	// A holder's child read before the request began may predate a
	// revocation the request must see: it is not taken (see readBefore).
	began := time.Now()
	var rejected domain.Token
	for attempt := 0; ; attempt++ {
		if token, ok := s.cached(req.Type, key, rejected); ok {
			switch _, ok, err := s.readCached(ctx, req, token); {
			case err != nil:
				return domain.Token{}, err
			case ok:
				return token, nil
			}
			rejected = token
		}
		if attempt == 0 {
			s.observer.CacheMiss(req.Type)
		}
		unlock, held, err := s.flights.LockOrWait(ctx, string(key))
		if err != nil {
			return domain.Token{}, fmt.Errorf("waiting for another request for the same %s token: %w", req.Type, err)
		}
		if unlock != nil {
			return s.runLocked(ctx, req, key, rejected, unlock)
		}
		if held.readBefore(began) {
			// Read again, from the cache where the holder put it.
			continue
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
// (see runLocked), whose audience is a. Whoever held the lock before may
// have just cached the child, so it looks in the cache once more.
func (s *TokenCacheService) getChildLocked(ctx context.Context, req *domain.ChildRequest, key domain.CacheKey, rejected domain.Token, a *audience) outcome {
	if token, ok := s.cached(req.Type, key, rejected); ok {
		readAt := time.Now()
		if child, ok, err := s.readCached(ctx, req, token); err != nil || ok {
			return outcome{child: child, err: err, readAt: readAt}
		}
	}
	return s.findOrCreate(ctx, req, key, a)
}

// cached returns the child cached for key, unless there is none or it is
// rejected, already found wanting. It does no I/O: a thousand requests that
// find nothing here go on to wait for one holder (see getChild), and stay
// cheap on the way.
func (s *TokenCacheService) cached(typ domain.TokenType, key domain.CacheKey, rejected domain.Token) (domain.Token, bool) {
	token, ok := s.cacheFor(typ).Get(key)
	if !ok || token == rejected {
		return domain.Token{}, false
	}
	return token, true
}

// readCached reads token, the child cached for req, from the token store
// and reports whether it may be reused for req: the store still holds it
// and it passes the rules. It returns the child as the store holds it. The
// read ends within the creation timeout, whatever ctx's deadline.
func (s *TokenCacheService) readCached(ctx context.Context, req *domain.ChildRequest, token domain.Token) (domain.TokenData, bool, error) {
	ctx, cancel := s.readBounds.within(ctx)
	defer cancel()
	data, err := s.store.Get(ctx, token)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return domain.TokenData{}, false, nil
	case err != nil:
		return domain.TokenData{}, false, s.storeFailed(ctx, "token_store.get",
			fmt.Errorf("reading cached %s token %s: %w", req.Type, token.Key, err))
	}
	if !s.reusable(req, &data) {
		return domain.TokenData{}, false, nil
	}
	return data, true, nil
}

// reusable reports whether child, as the token store holds it, may be
// handed out for req now (rule 2), and counts it as a cache hit if so.
func (s *TokenCacheService) reusable(req *domain.ChildRequest, child *domain.TokenData) bool {
	if !req.Reusable(child, s.clock.Now(), s.lifetime) {
		return false
	}
	s.observer.CacheHit(req.Type)
	return true
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
