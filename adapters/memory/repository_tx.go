package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

var errTxDone = errors.New("unit of work already committed or rolled back")

// repositoryTx buffers additions until Commit, holding its lock until then
// or until the context it began with ends.
type repositoryTx struct {
	repo    *Repository
	ctx     context.Context // Begin's
	once    sync.Once
	unlock  func()
	stop    func() bool // forgets the end of Begin's context
	done    atomic.Bool
	failed  error // the first failed addition: the unit of work is aborted
	pending []domain.TokenRecord
}

var _ ports.RepositoryTx = (*repositoryTx)(nil)

func (tx *repositoryTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	if err := tx.usable(ctx); err != nil {
		return "", fmt.Errorf("finding child of %s: %w", q.ParentKey, err)
	}
	return tx.repo.findChild(q, tx.pending)
}

func (tx *repositoryTx) LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
	if err := tx.usable(ctx); err != nil {
		return ports.ChildLookup{}, fmt.Errorf("looking up child of %s: %w", q.ParentKey, err)
	}
	key, err := tx.repo.findChild(q, tx.pending)
	if err != nil && !errors.Is(err, ports.ErrNotFound) {
		return ports.ChildLookup{}, err
	}
	return ports.ChildLookup{Key: key, Recent: tx.repo.countChildren(q.ParentKey, w, tx.pending)}, nil
}

func (tx *repositoryTx) AddToken(ctx context.Context, rec domain.TokenRecord) error {
	key := rec.Data.Token.Key
	if err := tx.usable(ctx); err != nil {
		return fmt.Errorf("adding token %s: %w", key, err)
	}
	// As in PostgreSQL, a failed statement aborts the transaction.
	switch {
	case tx.repo.hasToken(key, tx.pending):
		tx.failed = fmt.Errorf("adding token %s: a token with that key exists", key)
	case rec.ParentKey != "" && !tx.repo.hasToken(rec.ParentKey, tx.pending):
		tx.failed = fmt.Errorf("adding token %s: %w: %w (%s)",
			key, domain.ErrInvalidToken, domain.ErrParentNotRecorded, rec.ParentKey)
	default:
		// As it will read once committed: PostgreSQL's columns hold whole
		// seconds.
		rec.Data = rec.Data.Clone()
		rec.Data.Created, rec.Data.Expires = wholeSeconds(rec.Data.Created), wholeSeconds(rec.Data.Expires)
		tx.pending = append(tx.pending, rec)
		return nil
	}
	return tx.failed
}

func (tx *repositoryTx) Commit(ctx context.Context) error {
	if err := tx.usable(ctx); err != nil {
		tx.end()
		return fmt.Errorf("committing: %w", err)
	}
	if tx.failed != nil {
		tx.end()
		return fmt.Errorf("committing an aborted unit of work: %w", tx.failed)
	}
	defer tx.end()
	// The lock is kept until the rows are applied: Begin's context ending
	// meanwhile must not release it. If it has ended already, the unit is
	// over.
	if !tx.stop() {
		if err := tx.ctx.Err(); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
		return fmt.Errorf("committing: %w", errTxDone)
	}
	if err := tx.repo.apply(tx.pending); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func (tx *repositoryTx) Rollback(context.Context) error {
	tx.end()
	return nil
}

// usable fails once the unit of work has ended or its caller gave up, as a
// database transaction tied to a context would.
func (tx *repositoryTx) usable(ctx context.Context) error {
	// Ended by Begin's context, the unit says so, however soon after that
	// context ended it is asked: the end runs on a goroutine of its own,
	// which may not have run yet.
	if err := tx.ctx.Err(); err != nil {
		return err
	}
	if tx.done.Load() {
		return errTxDone
	}
	return ctx.Err()
}

// finish ends the unit of work and releases its lock, once; the end of
// Begin's context calls it too, from another goroutine.
func (tx *repositoryTx) finish() {
	tx.done.Store(true)
	tx.once.Do(tx.unlock)
}

// end is finish by the unit's own user, who also stops watching Begin's
// context.
func (tx *repositoryTx) end() {
	tx.finish()
	tx.stop()
}
