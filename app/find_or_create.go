package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// findOrCreate runs under the child's in-process lock. It takes the
// repository's lock for the same key, which other processes share, so that
// no two replicas create the same child; looks for an existing child; and
// creates one if none will do.
func (s *TokenCacheService) findOrCreate(ctx context.Context, req domain.ChildRequest, key domain.CacheKey) (domain.Token, error) {
	tx, err := s.repo.Begin(ctx, key)
	if err != nil {
		return domain.Token{}, s.storeFailed(ctx, "repository.begin",
			fmt.Errorf("starting repository work for a %s token: %w", req.Type, err))
	}
	defer s.rollback(ctx, tx)

	token, found, err := s.findExisting(ctx, tx, req)
	if err != nil {
		return domain.Token{}, err
	}
	s.observer.RepositoryLookup(req.Type, found)
	if !found {
		if err := s.checkChildBudget(ctx, tx, req); err != nil {
			return domain.Token{}, err
		}
		if token, err = s.create(ctx, tx, req); err != nil {
			return domain.Token{}, err
		}
	}
	s.cacheFor(req.Type).Put(key, token)
	return token, nil
}

// findExisting looks in the repository for a child that the token store
// still holds and that may be reused for req. The lookup's cut-off decides
// whether the child has enough life left, not half of its own lifetime as
// on a cache hit: a child found here is handed out as Gafaelfawr would.
func (s *TokenCacheService) findExisting(ctx context.Context, tx ports.RepositoryTx, req domain.ChildRequest) (domain.Token, bool, error) {
	query := req.Query(s.clock.Now(), s.lifetime)
	childKey, err := tx.FindChild(ctx, query)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return domain.Token{}, false, nil
	case err != nil:
		return domain.Token{}, false, s.storeFailed(ctx, "repository.find",
			fmt.Errorf("looking up an existing %s token: %w", req.Type, err))
	}
	data, err := s.store.GetByKey(ctx, childKey)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return domain.Token{}, false, nil
	case err != nil:
		return domain.Token{}, false, s.storeFailed(ctx, "token_store.get",
			fmt.Errorf("reading existing %s token %s: %w", req.Type, childKey, err))
	}
	if !req.ReusableFromRepository(data, query.MinExpiration) {
		return domain.Token{}, false, nil
	}
	return data.Token, true, nil
}

// create makes a new child: the token store first, then its rows in tx. If
// the rows cannot be committed, or the store write failed in a way that
// may have written it all the same, the token is deleted from the store,
// even if the caller has given up, so that nothing half-made is left
// behind.
func (s *TokenCacheService) create(ctx context.Context, tx ports.RepositoryTx, req domain.ChildRequest) (domain.Token, error) {
	token, err := domain.NewToken(s.random)
	if err != nil {
		return domain.Token{}, err
	}
	child := req.NewChild(token, s.clock.Now(), s.lifetime)
	if err := s.store.Store(ctx, child); err != nil {
		if outcomeUnknown(ctx, err) {
			s.discard(ctx, token.Key)
		}
		return domain.Token{}, s.storeFailed(ctx, "token_store.store",
			fmt.Errorf("storing new %s token %s: %w", child.Type, token.Key, err))
	}
	if err := s.record(ctx, tx, req.Record(child)); err != nil {
		if !s.committedAnyway(ctx, err, token.Key) {
			s.discard(ctx, token.Key)
			return domain.Token{}, err
		}
		s.logger.WarnContext(ctx, "commit reported failure but the token was recorded",
			slog.String("token_key", token.Key), slog.String("error", err.Error()))
	}
	s.observer.ChildCreated(child.Type)
	s.logCreated(ctx, child)
	return token, nil
}

// outcomeUnknown reports whether a write that failed with err may still
// have been applied: the caller gave up, or the store did not answer in
// time, after the write may have reached it. A store that refused the
// connection, by contrast, wrote nothing, and needs no clean-up.
func outcomeUnknown(ctx context.Context, err error) bool {
	var timeout interface{ Timeout() bool }
	return ctx.Err() != nil ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &timeout) && timeout.Timeout()
}

// record adds and commits the child's rows.
func (s *TokenCacheService) record(ctx context.Context, tx ports.RepositoryTx, rec domain.TokenRecord) error {
	key := rec.Data.Token.Key
	if err := tx.AddToken(ctx, rec); err != nil {
		if errors.Is(err, domain.ErrInvalidToken) {
			return fmt.Errorf("recording new %s token %s: %w", rec.Data.Type, key, err)
		}
		return s.storeFailed(ctx, "repository.add",
			fmt.Errorf("recording new %s token %s: %w", rec.Data.Type, key, err))
	}
	if err := tx.Commit(ctx); err != nil {
		return &commitError{s.storeFailed(ctx, "repository.commit",
			fmt.Errorf("committing new %s token %s: %w", rec.Data.Type, key, err))}
	}
	return nil
}

// commitError is a failed commit, which may have taken effect all the same
// if only its answer was lost.
type commitError struct{ error }

func (e *commitError) Unwrap() error { return e.error }

// committedAnyway reports whether err is a failed commit that took effect
// nonetheless (the connection dropped, or the caller gave up, after the
// repository applied it), so that the token in the store is recorded and
// must stay. When that cannot be settled, it reports false: a row without
// a token is harmless, a live token without its rows is not.
func (s *TokenCacheService) committedAnyway(ctx context.Context, err error, key string) bool {
	var commit *commitError
	if !errors.As(err, &commit) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	exists, checkErr := s.repo.TokenExists(ctx, key)
	if checkErr != nil {
		s.logger.WarnContext(ctx, "cannot tell whether a failed commit took effect",
			slog.String("token_key", key), slog.String("error", checkErr.Error()))
		return false
	}
	return exists
}

// discard deletes a token whose rows could not be recorded, or whose write
// may have been applied although it failed. It runs on a
// context detached from the caller's cancellation: a caller that gave up
// mid-way must not leave the token behind.
func (s *TokenCacheService) discard(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.store.Delete(ctx, key); err != nil {
		s.observer.StoreError("token_store.delete")
		s.logger.ErrorContext(ctx, "cannot delete token after failing to record it",
			slog.String("token_key", key), slog.String("error", err.Error()))
	}
}

// rollback ends tx if it is still open. Like discard, it runs even when
// the caller has given up, so that the repository lock is released at once.
func (s *TokenCacheService) rollback(ctx context.Context, tx ports.RepositoryTx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil {
		s.logger.WarnContext(ctx, "cannot roll back repository work", slog.String("error", err.Error()))
	}
}

func (s *TokenCacheService) logCreated(ctx context.Context, child domain.TokenData) {
	groups := make([]string, len(child.Groups))
	for i, g := range child.Groups {
		groups[i] = g.Name
	}
	s.logger.InfoContext(ctx, "created delegated token",
		slog.String("token_key", child.Token.Key),
		slog.String("token_type", string(child.Type)),
		slog.String("service", child.Service),
		slog.Any("scopes", child.Scopes),
		slog.Time("expires", child.Expires),
		slog.String("username", child.Username),
		slog.String("name", child.Name),
		slog.String("email", child.Email),
		slog.Int64("uid", child.UID),
		slog.Int64("gid", child.GID),
		slog.Any("groups", groups),
	)
}
