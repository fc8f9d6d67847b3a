package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tokencache/tokencache/domain"
)

// commitError is a failed commit, which may have taken effect all the same
// if only its answer was lost.
type commitError struct{ error }

func (e *commitError) Unwrap() error { return e.error }

// keepUnrecorded decides what becomes of child, in the token store, whose
// rows failed to be recorded with err, under the repository lock named by
// lock, and reports whether they were recorded after all, so that the
// child is handed out. A failed commit may have taken effect if only its
// answer was lost: the repository is asked, briefly (see
// cleaner.recorded), and when it cannot tell the cleaner settles it later.
// Any other failure recorded nothing, and the child is discarded.
func (s *TokenCacheService) keepUnrecorded(ctx context.Context, err error, lock domain.CacheKey, child domain.TokenData) bool {
	key := child.Token.Key
	var commit *commitError
	if !errors.As(err, &commit) {
		s.cleanups.discard(ctx, key)
		return false
	}
	recorded, checkErr := s.commitTookEffect(ctx, lock, key)
	switch {
	case checkErr != nil:
		s.cleanups.settleLater(ctx, lock, child, checkErr)
		return false
	case recorded:
		s.logger.WarnContext(ctx, "commit reported failure but the token was recorded",
			slog.String("token_key", key), slog.String("error", err.Error()))
		return true
	}
	s.cleanups.discard(ctx, key)
	return false
}

// commitTookEffect asks the repository whether the token's row is
// committed, on a context detached from the caller's: the caller may have
// given up during the commit.
func (s *TokenCacheService) commitTookEffect(ctx context.Context, lock domain.CacheKey, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupAttempt)
	defer cancel()
	return s.cleanups.recorded(ctx, lock, key)
}
