package app

import (
	"context"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// outcome is how the work a request did holding its child's lock ended:
// the child it handed out, as it has just read it from the token store or
// written it there, or the failure it met. The holder hands it to the
// requests that waited for the lock (keylock.Flights), which take it
// instead of each reading the stores again. The zero outcome hands over
// nothing: each waiter then looks for itself.
type outcome struct {
	child domain.TokenData // zero unless a child was handed out
	// fromRepository is set when child was found by a repository lookup
	// (rule 4) rather than in the cache or made anew.
	fromRepository bool
	err            error
	// refusedBelow is set when err is a refusal of a new child (rule 10)
	// after lookups that passed over every child expiring before it: a
	// request with an earlier cut-off might reuse one of those.
	// refusedScopes are the scopes of the refused request: the lookups
	// passed over every child with a scope beyond them too, and a request
	// with such a scope might reuse one of those (a notebook child fits a
	// parent with at least its scopes, and the cache key does not hold the
	// parent's scopes).
	refusedBelow  time.Time
	refusedScopes []string
	// readAt is when the read of child from the token store began, or,
	// for a child made anew, when its commit was sent: from then on others
	// may find it, and revoke it. By the monotonic clock.
	readAt time.Time
}

// readBefore reports whether o hands out a child read from (or written
// to) the token store by a read (or write) that began before since: a
// revocation acknowledged between the two may not show in it.
func (o *outcome) readBefore(since time.Time) bool {
	return o != nil && o.err == nil && o.child.Token != (domain.Token{}) &&
		!o.readAt.IsZero() && o.readAt.Before(since)
}

// shareable is o as the waiters may have it. A failure that came because
// ctx, the work's own context, ended (the creation timeout ran out) says
// only that this attempt took too long: the waiters get nothing and try
// for themselves, each within its own deadline. Every other outcome is
// shared.
func shareable(ctx context.Context, o *outcome) *outcome {
	if o.err != nil && ctx.Err() != nil {
		return nil
	}
	return o
}

// takeShared reports whether req, which waited for the holder of its
// child's lock, is answered by the holder's outcome o, and with what. A
// failure is shared as it is: a store that failed, a parent unknown to the
// repository would meet the waiter too, and so would a parent refused a
// new child, unless req's own lookup would look further than the holder's
// did (an earlier cut-off: a shorter minimum lifetime; or a scope the
// holder's request lacked) and might find a child to reuse, which is
// never refused. A child is
// shared when it passes req's own rules, with no I/O: those for a cached
// child (rule 2), since the holder has just read or written it, or, if the
// holder found it in the repository, those for a child found there
// (rule 4). Those are the children the waiter would take itself from the
// cache, where the holder has put it, or from the repository. A waiter
// handed a child counts as a cache hit, as it did when it read that child
// from the cache.
func (s *TokenCacheService) takeShared(req *domain.ChildRequest, o *outcome) (domain.Token, bool, error) {
	switch {
	case o == nil:
		return domain.Token{}, false, nil
	case o.err != nil && !o.refusedBelow.IsZero() &&
		(domain.MinimumExpiration(req.Parent, s.clock.Now(), req.MinimumLifetime, s.lifetime).Before(o.refusedBelow) ||
			!domain.ScopesSubset(req.Scopes, o.refusedScopes)):
		return domain.Token{}, false, nil
	case o.err != nil:
		return domain.Token{}, true, o.err
	case o.child.Token == (domain.Token{}):
		return domain.Token{}, false, nil
	}
	now := s.clock.Now()
	if !req.Reusable(&o.child, now, s.lifetime) && !(o.fromRepository && s.reusableFromRepository(req, &o.child, now)) {
		return domain.Token{}, false, nil
	}
	s.observer.CacheHit(req.Type)
	return o.child.Token, true, nil
}

// reusableFromRepository reports whether child, found by a repository
// lookup, may be handed out for req at now: it meets the cut-off of req's
// own lookup (rule 4) and has not expired.
func (s *TokenCacheService) reusableFromRepository(req *domain.ChildRequest, child *domain.TokenData, now time.Time) bool {
	return req.ReusableFromRepository(child, req.Query(now, s.lifetime).MinExpiration, now)
}
