package app

import (
	"context"
	"fmt"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// childBudget is the bound cfg, with its defaults applied, sets on the
// children of one parent.
func (c Config) childBudget() domain.ChildBudget {
	return domain.ChildBudget{Max: c.MaxChildrenPerParent, Window: c.ChildrenWindow}
}

// checkChildBudget returns an error wrapping domain.ErrTooManyChildren if
// req's parent has already created as many children as the budget allows
// within its window. It runs in tx, under the new child's lock, just
// before creating: reuse is never refused.
//
// The count is the repository's, so it holds across replicas. Creations of
// the same parent's other children, under other locks, are not counted
// until they commit, so concurrent ones can each find room for one more:
// a parent can exceed the bound by at most the number of its creations
// running at once, across all replicas, minus one. Taking a lock per parent
// would make that exact, at the price of making a user's different
// children wait for each other, which rule 6 promises they never do.
func (s *TokenCacheService) checkChildBudget(ctx context.Context, tx ports.RepositoryTx, req *domain.ChildRequest) error {
	if !s.budget.Bounded() {
		return nil
	}
	now := s.clock.Now()
	recent, err := tx.CountChildrenSince(ctx, req.Parent.Token.Key, s.budget.Since(now))
	if err != nil {
		return s.storeFailed(ctx, "repository.count_children",
			fmt.Errorf("counting the recent children of the parent of a new %s token: %w", req.Type, err))
	}
	if err := s.budget.Check(recent, now); err != nil {
		s.observer.ChildRefused(req.Type)
		return fmt.Errorf("creating a new %s token: %w", req.Type, err)
	}
	return nil
}
