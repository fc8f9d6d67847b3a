package ports

//go:generate go tool mockgen -destination ../mocks/token_repository.go -package mocks -source token_repository.go

import (
	"context"

	"github.com/tokencache/tokencache/domain"
)

// TokenRepository is the durable record of tokens, their parent links and
// their change history (Gafaelfawr keeps this in PostgreSQL).
type TokenRepository interface {
	// Begin starts a unit of work that holds an exclusive lock named by
	// lock until it commits or rolls back. The lock is shared by every
	// process using the same repository, so replicas asking for the same
	// child take turns. Begin waits for the lock until ctx ends. The unit
	// of work belongs to ctx: when ctx ends it is rolled back, its lock
	// released, and it can no longer be used. A failed AddToken aborts it:
	// Commit then fails and adds nothing.
	Begin(ctx context.Context, lock domain.CacheKey) (RepositoryTx, error)

	// BeginDeferred starts a unit of work as Begin does, except that it
	// may take the lock with the unit's first call rather than at once
	// (PostgreSQL's repository does, in the same round trip as a
	// lookup). That call then waits for the lock until its own ctx ends,
	// and fails if it cannot take it; once a call of the unit has
	// succeeded (FindChild's ErrNotFound is a success), the lock is held.
	// A unit that makes no call before it ends may never take the lock.
	BeginDeferred(ctx context.Context, lock domain.CacheKey) (RepositoryTx, error)

	// TokenExists reports whether a token with that key is committed. It
	// settles whether a commit whose answer was lost took effect.
	TokenExists(ctx context.Context, key string) (bool, error)
}

// RepositoryTx is one unit of work begun by TokenRepository.Begin or
// BeginDeferred. It is used by one goroutine at a time. Nothing it adds is
// visible to others until Commit; after Commit or Rollback it may not be
// used again.
type RepositoryTx interface {
	// FindChild returns the key of the existing child that matches q, is
	// not in q.Exclude, and expires last, of those the one created last, of
	// those the smallest key; or ErrNotFound.
	FindChild(ctx context.Context, q domain.ChildQuery) (string, error)

	// LookUpChild does in one call what a creation asks before it writes
	// anything: the key of the child FindChild would return for q, or ""
	// where FindChild returns ErrNotFound, and how many children of
	// q.ParentKey were created at or after w.Since, when the w.Max-th
	// newest of them was (see domain.ChildCount). A parent with no such
	// children, or unknown to the repository, gives a zero count, not an
	// error. The count includes
	// children added in this unit of work; children that other units of
	// work, under other locks, are adding at the same time are not
	// counted until they commit. A child counts for as long as the
	// repository keeps it: PostgreSQL until Gafaelfawr's maintenance
	// deletes it after it expires, the memory repository until a sweep
	// drops it after it expires (see memory.Repository).
	LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ChildLookup, error)

	// AddToken adds the token row, its parent link when rec.ParentKey is
	// set, and its "create" history entry. It returns an error wrapping
	// domain.ErrInvalidToken if the parent is not in the repository.
	AddToken(ctx context.Context, rec domain.TokenRecord) error

	// Commit makes the unit of work's additions durable and releases the
	// lock. If it fails, nothing was added.
	Commit(ctx context.Context) error

	// Rollback discards the unit of work and releases the lock. Rolling
	// back after Commit is a harmless no-op, so it may be deferred.
	Rollback(ctx context.Context) error
}

// ChildLookup is what RepositoryTx.LookUpChild finds: the best existing
// child to reuse, and the parent's recent children, which bound whether
// it may have one more.
type ChildLookup struct {
	Key    string            // the child FindChild would return; "" if none
	Recent domain.ChildCount // the parent's children in the window asked for
}
