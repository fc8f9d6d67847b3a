package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// findOrCreate runs under the child's in-process lock. It takes the
// repository's lock for the same key, which other processes share, so that
// no two replicas create the same child; looks for an existing child; and
// creates one if none will do. It runs detached from the caller (see
// runLocked), and its outcome goes to the requests that waited for the
// lock too. If nobody waits for it any more (a is its audience), it lets
// the work others wait for go first before each step (see abandoned.go).
func (s *TokenCacheService) findOrCreate(ctx context.Context, req *domain.ChildRequest, key domain.CacheKey, a *audience) outcome {
	tx, err := s.repo.BeginDeferred(ctx, key)
	if err != nil {
		return outcome{err: s.storeFailed(ctx, "repository.begin",
			fmt.Errorf("starting repository work for the %s token: %w", req.Type, err))}
	}
	defer s.rollback(ctx, tx)

	s.yieldIfAbandoned(ctx, a)
	found, err := s.findExisting(ctx, tx, req)
	if err != nil {
		return outcome{err: err}
	}
	s.observer.RepositoryLookup(req.Type, found.found)
	child, readAt := found.child, found.readAt
	if !found.found {
		if err := s.checkChildBudget(req, found.recent); err != nil {
			return outcome{err: err, refusedBelow: found.cutoff, refusedScopes: req.Scopes}
		}
		s.yieldIfAbandoned(ctx, a)
		if child, readAt, err = s.create(ctx, tx, req, key); err != nil {
			return outcome{err: err}
		}
	}
	s.cacheFor(req.Type).Put(key, child.Token)
	return outcome{child: child, fromRepository: found.found, readAt: readAt}
}

// create makes a new child: it writes the child to the token store and,
// at the same time, its rows in tx, which it commits only once the token
// store has the child, so that no committed row names a child the token
// store never held; the rows are invisible to everyone else until then.
// If either write or the commit fails, the child is cleaned up from the
// token store, even if ctx has ended, so that nothing half-made is left
// behind (see cleaner). tx holds the repository lock named by key.
//
// It also returns when the commit was sent: others find a child to revoke
// it in the repository (Gafaelfawr finds a token's children there), so
// nobody can have revoked it before then.
func (s *TokenCacheService) create(ctx context.Context, tx ports.RepositoryTx, req *domain.ChildRequest, key domain.CacheKey) (domain.TokenData, time.Time, error) {
	token, err := domain.NewToken(s.random)
	if err != nil {
		return domain.TokenData{}, time.Time{}, err
	}
	child := req.NewChild(token, s.clock.Now(), s.lifetime)
	rec := req.Record(child)
	// A panic from here on (a driver's, say) must not leave the child in
	// the token store without its rows, which are rolled back: it is
	// deleted, or, once its commit may have been sent, settled by its row.
	returned, committing := false, false
	defer func() {
		switch {
		case returned:
		case committing:
			s.cleanups.settleLater(ctx, key, child, errCreationPanicked)
		default:
			s.cleanups.discard(ctx, token.Key)
		}
	}()
	storeErr, addErr := s.storeAndAdd(ctx, tx, child, rec)
	if storeErr != nil {
		returned = true
		// However the error looks, the write may have been applied: a
		// reply lost on its way back ends, after the client's retries, as
		// a refused connection. The rows, if added, are rolled back.
		s.cleanups.discard(ctx, token.Key)
		return domain.TokenData{}, time.Time{}, s.storeFailed(ctx, "token_store.store",
			fmt.Errorf("storing new %s token %s: %w", child.Type, token.Key, storeErr))
	}
	committing = addErr == nil
	sent, err := s.record(ctx, tx, rec, addErr)
	// keepUnrecorded asks the repository too: it may panic as well.
	kept := err == nil || s.keepUnrecorded(ctx, err, key, child)
	returned = true
	if !kept {
		return domain.TokenData{}, time.Time{}, err
	}
	s.observer.ChildCreated(child.Type)
	logCreated(ctx, s.logger, child)
	return child, sent, nil
}

// errCreationPanicked is why a child whose creation panicked after its
// commit may have been sent is settled later.
var errCreationPanicked = errors.New("its creation panicked")

// storeAndAdd writes child to the token store on a goroutine of its own
// while it adds rec to tx, so that a creation waits for the slower of the
// two round trips rather than for both, and returns once both have ended,
// whatever happened: the token store's write is never left running, and
// tx stays with the calling goroutine. A panic in the token store's write
// is raised again here.
func (s *TokenCacheService) storeAndAdd(ctx context.Context, tx ports.RepositoryTx, child domain.TokenData, rec domain.TokenRecord) (storeErr, addErr error) {
	stored := alongside(func() error { return s.store.Store(ctx, child) })
	defer func() { storeErr = stored() }()
	return nil, tx.AddToken(ctx, rec)
}

// record reports how adding the child's rows went (addErr), and if they
// were added, commits them, and returns when it sent the commit.
func (s *TokenCacheService) record(ctx context.Context, tx ports.RepositoryTx, rec domain.TokenRecord, addErr error) (time.Time, error) {
	key := rec.Data.Token.Key
	if addErr != nil {
		if errors.Is(addErr, domain.ErrInvalidToken) {
			return time.Time{}, fmt.Errorf("recording new %s token %s: %w", rec.Data.Type, key, addErr)
		}
		return time.Time{}, s.storeFailed(ctx, "repository.add",
			fmt.Errorf("recording new %s token %s: %w", rec.Data.Type, key, addErr))
	}
	sent := time.Now()
	if err := tx.Commit(ctx); err != nil {
		return sent, &commitError{s.storeFailed(ctx, "repository.commit",
			fmt.Errorf("committing new %s token %s: %w", rec.Data.Type, key, err))}
	}
	return sent, nil
}

// alongside runs do on a goroutine of its own and returns a function that
// waits for it to end and returns its error. If do panicked, the function
// panics with the same value; if do stopped its goroutine
// (runtime.Goexit), as a failing test's helper does, so does the function.
func alongside(do func() error) (wait func() error) {
	type ended struct {
		err      error
		returned bool
		panic    any
	}
	done := make(chan ended, 1)
	go func() {
		var e ended
		defer func() {
			if !e.returned {
				e.panic = recover()
			}
			done <- e
		}()
		e.err = do()
		e.returned = true
	}()
	return func() error {
		e := <-done
		switch {
		case e.returned:
			return e.err
		case e.panic != nil:
			panic(e.panic)
		}
		runtime.Goexit()
		return nil
	}
}

// rollback ends tx if it is still open (see rollbackBriefly).
func (s *TokenCacheService) rollback(ctx context.Context, tx ports.RepositoryTx) {
	rollbackBriefly(ctx, tx, s.logger)
}

// rollbackBriefly ends tx if it is still open. It runs even when ctx has
// ended, so that the repository lock is released at once, but briefly: a
// repository that stopped answering must not hold the work.
func rollbackBriefly(ctx context.Context, tx ports.RepositoryTx, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupAttempt)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil {
		logger.WarnContext(ctx, "cannot roll back repository work", slog.String("error", err.Error()))
	}
}

// logCreated logs the creation of child (rule 9), without its secret.
func logCreated(ctx context.Context, logger *slog.Logger, child domain.TokenData) {
	groups := make([]string, len(child.Groups))
	for i, g := range child.Groups {
		groups[i] = g.Name
	}
	logger.InfoContext(ctx, "created delegated token",
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
