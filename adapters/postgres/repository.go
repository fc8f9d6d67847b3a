package postgres

import (
	"context"
	"database/sql"
	"errors"
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
// lock until ctx ends. BEGIN and the lock cost one round trip together.
//
// The lookups that follow run in statements of their own, after the lock
// is taken, so that they see what the lock's previous holder committed:
// PostgreSQL reads the database as it was when a statement began, and a
// statement that waits for the lock began before the holder committed.
//
// That holds only under READ COMMITTED, which the transaction asks for
// whatever the server's default_transaction_isolation: under REPEATABLE
// READ or SERIALIZABLE the whole transaction would read the database as it
// was when the lock statement began, and a second replica would make the
// child again (or fail to serialize).
//
// The transaction belongs to ctx: database/sql rolls it back if ctx ends
// before Commit, so ctx must outlive the whole unit of work.
//
// Commit and Rollback also end when their own context does: the
// transaction's context is one of its own, ended by theirs (database/sql
// gives them none).
func (r *TokenRepository) Begin(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	txCtx, end := context.WithCancel(ctx)
	tx, err := r.db.BeginTxx(txCtx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		end()
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	id := lockID(lock)
	if _, err := tx.ExecContext(ctx, lockStatement(id)); err != nil {
		if rbErr := rollback(tx); rbErr != nil {
			r.logger.ErrorContext(ctx, "rolling back after failing to take lock", "lock_id", id, "error", rbErr)
		}
		end()
		return nil, fmt.Errorf("waiting for repository lock %d: %w", id, withContext(ctx, err))
	}
	return &repoTx{tx: tx, end: end, logger: r.logger}, nil
}

// BeginDeferred starts a transaction as Begin does, but sends nothing yet:
// BEGIN and the lock go with the transaction's first statement, and when
// that is a lookup (FindChild or LookUpChild), in one message with it (see
// queryFirst), so that the lock costs no round trip of its own. That
// statement waits for the lock until its own context ends. A transaction
// that sends nothing before it ends never takes the lock.
func (r *TokenRepository) BeginDeferred(ctx context.Context, lock domain.CacheKey) (ports.RepositoryTx, error) {
	txCtx, end := context.WithCancel(ctx)
	id := lockID(lock)
	tx, err := r.db.BeginTxx(withStatementAfterBegin(txCtx, lockStatement(id)), &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		end()
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	return &repoTx{tx: tx, end: end, logger: r.logger, lock: id, lockPending: true}, nil
}

// withContext adds ctx's error to err once ctx has ended, so that callers
// can tell with errors.Is why a statement failed: lib/pq reports one
// cancelled while running as the server's "canceling statement" error.
func withContext(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return err
}

// TokenExists reports whether a token row with that key is committed.
func (r *TokenRepository) TokenExists(ctx context.Context, key string) (bool, error) {
	var exists bool
	err := r.db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM token WHERE token = $1)`, key)
	if err != nil {
		return false, fmt.Errorf("looking up token %s: %w", key, withContext(ctx, err))
	}
	return exists, nil
}
