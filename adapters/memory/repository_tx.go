package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

var errTxDone = errors.New("unit of work already committed or rolled back")

// repositoryTx buffers additions until Commit, holding its lock until then.
type repositoryTx struct {
	repo    *Repository
	once    sync.Once
	unlock  func()
	done    bool
	pending []domain.TokenRecord
}

var _ ports.RepositoryTx = (*repositoryTx)(nil)

func (tx *repositoryTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	if err := tx.usable(ctx); err != nil {
		return "", fmt.Errorf("finding child of %s: %w", q.ParentKey, err)
	}
	return tx.repo.findChild(q, tx.pending)
}

func (tx *repositoryTx) LookUpChild(ctx context.Context, q domain.ChildQuery, since time.Time) (ports.ChildLookup, error) {
	if err := tx.usable(ctx); err != nil {
		return ports.ChildLookup{}, fmt.Errorf("looking up child of %s: %w", q.ParentKey, err)
	}
	key, err := tx.repo.findChild(q, tx.pending)
	if err != nil && !errors.Is(err, ports.ErrNotFound) {
		return ports.ChildLookup{}, err
	}
	return ports.ChildLookup{Key: key, Recent: tx.repo.countChildrenSince(q.ParentKey, since, tx.pending)}, nil
}

func (tx *repositoryTx) AddToken(ctx context.Context, rec domain.TokenRecord) error {
	key := rec.Data.Token.Key
	if err := tx.usable(ctx); err != nil {
		return fmt.Errorf("adding token %s: %w", key, err)
	}
	if rec.ParentKey != "" && !tx.repo.hasToken(rec.ParentKey, tx.pending) {
		return fmt.Errorf("adding token %s: %w: parent %s is not in the repository",
			key, domain.ErrInvalidToken, rec.ParentKey)
	}
	tx.pending = append(tx.pending, rec)
	return nil
}

func (tx *repositoryTx) Commit(ctx context.Context) error {
	if err := tx.usable(ctx); err != nil {
		tx.finish()
		return fmt.Errorf("committing: %w", err)
	}
	defer tx.finish()
	if err := tx.repo.apply(tx.pending); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func (tx *repositoryTx) Rollback(context.Context) error {
	tx.finish()
	return nil
}

// usable fails once the unit of work has ended or its caller gave up, as a
// database transaction tied to a context would.
func (tx *repositoryTx) usable(ctx context.Context) error {
	if tx.done {
		return errTxDone
	}
	return ctx.Err()
}

func (tx *repositoryTx) finish() {
	tx.done = true
	tx.once.Do(tx.unlock)
}
