package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// maxCandidates bounds how many children the repository offers for one
// request before a new one is made. Each one passed over costs a lookup
// and a read of the token store.
const maxCandidates = 8

// findExisting looks in the repository for a child that the token store
// still holds and that may be reused for req, and returns it as the token
// store holds it. A child the repository offers but the token store no
// longer holds, or holds in a form req may not reuse, is passed over for
// the next best: a revoked child's rows can outlive its token (Gafaelfawr
// deletes the token first), and taking the next best keeps replicas that
// each found the revoked one from each making a replacement.
func (s *TokenCacheService) findExisting(ctx context.Context, tx ports.RepositoryTx, req *domain.ChildRequest) (domain.TokenData, bool, error) {
	query := req.Query(s.clock.Now(), s.lifetime)
	for range maxCandidates {
		childKey, err := tx.FindChild(ctx, query)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			return domain.TokenData{}, false, nil
		case err != nil:
			return domain.TokenData{}, false, s.storeFailed(ctx, "repository.find",
				fmt.Errorf("looking up an existing %s token: %w", req.Type, err))
		}
		data, err := s.store.GetByKey(ctx, childKey)
		switch {
		case errors.Is(err, ports.ErrNotFound):
		case err != nil:
			return domain.TokenData{}, false, s.storeFailed(ctx, "token_store.get",
				fmt.Errorf("reading existing %s token %s: %w", req.Type, childKey, err))
		case req.ReusableFromRepository(&data, query.MinExpiration):
			return data, true, nil
		}
		query.Exclude = append(query.Exclude, childKey)
	}
	return domain.TokenData{}, false, nil
}
