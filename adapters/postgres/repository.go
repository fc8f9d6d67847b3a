package postgres

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// TokenRepository keeps tokens, parent links and change history in
// Gafaelfawr's PostgreSQL schema (see Migrate). It is safe for concurrent
// use.
type TokenRepository struct {
	db     *sqlx.DB
	logger *slog.Logger
}

var _ ports.TokenRepository = (*TokenRepository)(nil)

// NewTokenRepository returns a repository on db, which must have been
// opened with the "postgres" driver. A nil logger discards the log.
func NewTokenRepository(db *sqlx.DB, logger *slog.Logger) *TokenRepository {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &TokenRepository{db: db, logger: logger}
}

// Begin starts a transaction holding the transaction-scoped advisory lock
// lockID(lock), which every process sharing the database contends for, and
// which PostgreSQL releases when the transaction ends. Begin waits for the
// lock until ctx ends.
//
// The transaction belongs to ctx: database/sql rolls it back if ctx ends
// before Commit, so ctx must outlive the whole unit of work.
func (r *TokenRepository) Begin(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	id := lockID(lock)
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", id); err != nil {
		if rbErr := rollback(tx); rbErr != nil {
			r.logger.ErrorContext(ctx, "rolling back after failing to take lock", "lock_id", id, "error", rbErr)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			// lib/pq may report the server's "canceling statement" error;
			// callers want to see why with errors.Is.
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, fmt.Errorf("waiting for repository lock %d: %w", id, err)
	}
	return &repoTx{tx: tx, logger: r.logger}, nil
}
