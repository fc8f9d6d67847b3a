package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// maxCandidates bounds how many children the repository offers for one
// request before a new one is made. Each one passed over costs a lookup
// and a read of the token store, but only while children the token store
// no longer holds are offered. Gafaelfawr's own lookup takes one child,
// whichever its query plan yields first: in a review, the oldest, behind
// nine later ones revoked from Redis, which a bound of 8 did not reach.
const maxCandidates = 32

// existing is what the repository said, under the child's lock, about a
// request: the child to reuse, if any, and otherwise how many children the
// parent has made lately (see checkChildBudget).
type existing struct {
	child  domain.TokenData // as the token store holds it
	found  bool
	recent domain.ChildCount // counted with the last lookup; zero when the budget is unbounded
	// cutoff is the lookups' cut-off (ChildQuery.MinExpiration): the
	// children it passed over expire before it.
	cutoff time.Time
	// readAt is when the read of child from the token store began.
	readAt time.Time
}

// findExisting looks in the repository for a child that the token store
// still holds and that may be reused for req, and returns it as the token
// store holds it. A child the repository offers but the token store no
// longer holds, or holds in a form req may not reuse, is passed over for
// the next best: a revoked child's rows can outlive its token (Gafaelfawr
// deletes the token first), and taking the next best keeps replicas that
// each found the revoked one from each making a replacement.
//
// When the child budget bounds anything, each lookup also counts the
// parent's recent children, in the same round trip, so that a creation
// asks the repository nothing more before it writes.
func (s *TokenCacheService) findExisting(ctx context.Context, tx ports.RepositoryTx, req *domain.ChildRequest) (existing, error) {
	query := req.Query(s.clock.Now(), s.lifetime)
	found := existing{cutoff: query.MinExpiration}
	for i := range maxCandidates {
		childKey, recent, err := s.lookUp(ctx, tx, query)
		if errors.Is(err, ports.ErrLockNotTaken) {
			// The lookup went with the repository's lock (BeginDeferred),
			// and failed before it was granted.
			return existing{}, s.storeFailed(ctx, "repository.begin",
				fmt.Errorf("starting repository work for the %s token: %w", req.Type, err))
		}
		if err != nil {
			return existing{}, s.storeFailed(ctx, "repository.find",
				fmt.Errorf("looking up an existing %s token: %w", req.Type, err))
		}
		if i == 0 {
			// The first lookup may go with the repository's lock and wait
			// for it (BeginDeferred), its cut-off and its count's window
			// as of before the wait: from here on, the lock held, they
			// are as of now. A later cut-off only passes over more: a
			// lookup that found nothing would find nothing now either.
			query.MinExpiration = req.Query(s.clock.Now(), s.lifetime).MinExpiration
			found.cutoff = query.MinExpiration
			if childKey == "" && s.countedBeforeTheWindow(recent) {
				if _, recent, err = s.lookUp(ctx, tx, query); err != nil {
					return existing{}, s.storeFailed(ctx, "repository.find",
						fmt.Errorf("counting the recent children for a new %s token: %w", req.Type, err))
				}
			}
		}
		found.recent = recent
		if childKey == "" {
			return found, nil
		}
		readAt := time.Now()
		data, err := s.store.GetByKey(ctx, childKey)
		switch {
		case errors.Is(err, ports.ErrNotFound):
		case err != nil:
			return existing{}, s.storeFailed(ctx, "token_store.get",
				fmt.Errorf("reading existing %s token %s: %w", req.Type, childKey, err))
		case req.ReusableFromRepository(&data, query.MinExpiration, s.clock.Now()):
			found.child, found.found, found.readAt = data, true, readAt
			return found, nil
		}
		query.Exclude = append(query.Exclude, childKey)
	}
	return found, nil
}

// lookUp returns the key of the repository's best candidate for q, or ""
// if it has none, and, when the child budget bounds anything, the count of
// the parent's children within the budget's window as of now.
func (s *TokenCacheService) lookUp(ctx context.Context, tx ports.RepositoryTx, q domain.ChildQuery) (string, domain.ChildCount, error) {
	if !s.budget.Bounded() {
		key, err := tx.FindChild(ctx, q)
		if errors.Is(err, ports.ErrNotFound) {
			return "", domain.ChildCount{}, nil
		}
		return key, domain.ChildCount{}, err
	}
	found, err := tx.LookUpChild(ctx, q, s.budget.WindowAt(s.clock.Now()))
	return found.Key, found.Recent, err
}

// countedBeforeTheWindow reports whether recent, counted by a lookup whose
// window began before it waited for the repository's lock, would refuse a
// creation that a count as of now might allow: the last child that had to
// leave the window for room has left it since. Only then is it counted
// again.
func (s *TokenCacheService) countedBeforeTheWindow(recent domain.ChildCount) bool {
	now := s.clock.Now()
	return !recent.LastToLeave.IsZero() && recent.LastToLeave.Before(s.budget.Since(now)) && s.budget.Check(recent, now) != nil
}
