package app

import (
	"fmt"

	"github.com/tokencache/tokencache/domain"
)

// childBudget is the bound cfg, with its defaults applied, sets on the
// children of one parent.
func (c Config) childBudget() domain.ChildBudget {
	return domain.ChildBudget{Max: c.MaxChildrenPerParent, Window: c.ChildrenWindow}
}

// checkChildBudget returns an error wrapping domain.ErrTooManyChildren if
// req's parent has already created as many children as the budget allows
// within its window: recent, as the repository counted them under the new
// child's lock with its last lookup (see findExisting), just before
// creating. Reuse is never refused.
//
// The count is the repository's, so it holds across replicas. Creations of
// the same parent's other children, under other locks, are not counted
// until they commit, so concurrent ones can each find room for one more:
// a parent can exceed the bound by at most the number of its creations
// running at once, across all replicas, minus one. Taking a lock per parent
// would make that exact, at the price of making a user's different
// children wait for each other, which rule 6 promises they never do.
func (s *TokenCacheService) checkChildBudget(req *domain.ChildRequest, recent domain.ChildCount) error {
	if err := s.budget.Check(recent, s.clock.Now()); err != nil {
		s.observer.ChildRefused(req.Type)
		return fmt.Errorf("creating a new %s token: %w", req.Type, err)
	}
	return nil
}
