package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Clean-up after a failed creation. A child written to the token store
// whose rows did not make it into the repository must not stay there: it
// would be a live token that revoking its parent does not reach. The
// clean-up runs after every failed write, whatever the error says, since a
// write whose reply was lost took effect all the same; it is tried at once,
// briefly, and if that fails it is queued and retried in the background
// until it succeeds.

const (
	// cleanupAttempt bounds each attempt made on the caller's path (the
	// clean-up, the commit check, the rollback), which runs even when the
	// caller has given up: a store that stopped answering must not hold
	// the caller much past its deadline. A store that is up answers in
	// milliseconds; a slower one leaves the work to the queue.
	cleanupAttempt = 500 * time.Millisecond

	// retryAttempt bounds each background round of attempts.
	retryAttempt = 5 * time.Second

	// minRetryDelay and maxRetryDelay bound the pause between background
	// rounds, which doubles while they keep failing.
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 10 * time.Second

	// closeAttempt bounds the last round that Close makes.
	closeAttempt = 5 * time.Second

	// lockWait bounds the wait for the lock of a creation still under way
	// (see recorded), which is one key's trouble, not the store's: past it,
	// that key waits for the next round and the others go on.
	lockWait = 250 * time.Millisecond

	// maxPendingCleanups bounds the queue. Beyond it a clean-up is logged
	// and dropped, rather than memory growing for as long as a store is
	// down.
	maxPendingCleanups = 10_000
)

// msgLeftBehind is logged for a clean-up given up: an operator must
// settle it by hand.
const msgLeftBehind = "clean-up given up: the token may be in the token store without its repository rows; " +
	"delete it from the token store unless the repository has it"

// leftover is a child that a failed creation may have left in the token
// store.
type leftover struct {
	key string
	// mayBeRecorded is set when a commit of its rows failed in a way that
	// may have taken effect: then it is deleted only once the repository
	// says it has no row, and kept if it has one. lock names the
	// repository lock its creation held (see recorded).
	mayBeRecorded bool
	lock          domain.CacheKey
	// child is what was made, when mayBeRecorded: if it is kept, its
	// creation is logged and counted then (see created).
	child domain.TokenData
}

// cleaner deletes leftovers from the token store, queueing those it cannot
// delete at once for a background goroutine, which it starts on first use.
// It is safe for concurrent use.
type cleaner struct {
	store    ports.TokenStore
	repo     ports.TokenRepository
	observer ports.Observer
	logger   *slog.Logger
	limit    int // of pending clean-ups: maxPendingCleanups

	mu      sync.Mutex
	pending map[string]leftover
	empty   chan struct{} // closed while nothing is pending
	wake    chan struct{} // asks the worker for a round now
	running bool          // the worker was started
	closed  bool
	stop    chan struct{} // closed by close
	stopped chan struct{} // closed when the worker has ended
}

func newCleaner(store ports.TokenStore, repo ports.TokenRepository, observer ports.Observer, logger *slog.Logger) *cleaner {
	empty := make(chan struct{})
	close(empty)
	return &cleaner{
		store: store, repo: repo, observer: observer, logger: logger,
		limit:   maxPendingCleanups,
		pending: make(map[string]leftover),
		empty:   empty,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// discard deletes the child with that key from the token store, which no
// repository row records. It tries at once, on a context detached from the
// caller's (a caller that gave up mid-way must not leave the child
// behind), and queues the deletion if that fails.
func (c *cleaner) discard(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupAttempt)
	defer cancel()
	err := c.deleteOnce(ctx, key)
	if err == nil {
		return
	}
	c.observer.StoreError("token_store.delete")
	c.enqueue(ctx, leftover{key: key}, err)
}

// deleteOnce deletes the child with that key from the token store, with a
// panic (a store driver's bug) made an error, so that the deletion is
// queued rather than lost with the panic.
func (c *cleaner) deleteOnce(ctx context.Context, key string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errCleanupPanicked // not the value: it might quote a token
		}
	}()
	return c.store.Delete(ctx, key)
}

// settleLater queues child, created under the repository lock named by
// lock, whose commit may or may not have taken effect, to be kept if the
// repository has its row and deleted otherwise. why is the error that left
// it unsettled.
func (c *cleaner) settleLater(ctx context.Context, lock domain.CacheKey, child domain.TokenData, why error) {
	c.enqueue(ctx, leftover{key: child.Token.Key, mayBeRecorded: true, lock: lock, child: child}, why)
}

// settle makes one attempt at l within ctx: it reports whether l is
// settled (deleted, or recorded and so to be kept) and, if not, why.
func (c *cleaner) settle(ctx context.Context, l leftover) (kept bool, err error) {
	if l.mayBeRecorded {
		recorded, err := c.recorded(ctx, l.lock, l.key)
		if err != nil {
			return false, fmt.Errorf("%w: %w", errRepositoryCheck, err)
		}
		if recorded {
			return true, nil
		}
	}
	return false, c.store.Delete(ctx, l.key)
}

// errRepositoryCheck marks a clean-up that failed asking the repository
// whether its commit took effect, which says nothing of the token store.
var errRepositoryCheck = errors.New("checking the repository for its row")

// errCreationUnderWay says that the lock of a creation was still held
// past lockWait: its commit may still be under way.
var errCreationUnderWay = errors.New("its creation still holds the lock")

// recorded reports whether the row of the token with that key, created
// under the repository lock named by lock, is committed. A commit whose
// answer was lost may still be under way (waiting for its flush, or for a
// synchronous standby), its rows invisible until it ends, and "no row yet"
// is not "never": so it asks only once it has held that lock, which the
// creation's unit of work keeps until it has ended, one way or the other,
// waiting for it at most lockWait (then the error wraps
// errCreationUnderWay). It lets the lock go before it asks, so that it
// never holds two connections at once: a burst of such checks could
// otherwise take the whole pool and wait for each other.
func (c *cleaner) recorded(ctx context.Context, lock domain.CacheKey, key string) (bool, error) {
	lockCtx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	tx, err := c.repo.Begin(lockCtx, lock)
	if err != nil {
		if ctx.Err() == nil && lockCtx.Err() != nil {
			err = fmt.Errorf("%w (%w)", errCreationUnderWay, err)
		}
		return false, fmt.Errorf("waiting for the creation of token %s to end: %w", key, err)
	}
	rollbackBriefly(ctx, tx, c.logger)
	return c.repo.TokenExists(ctx, key)
}

// enqueue queues l for the worker, starting it if need be. After close, or
// when the queue is full, l is only logged.
func (c *cleaner) enqueue(ctx context.Context, l leftover, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := []any{slog.String("token_key", l.key), slog.String("error", cause.Error())}
	switch {
	case c.closed:
		c.logger.ErrorContext(ctx, msgLeftBehind, append(attrs, slog.String("reason", "service closed"))...)
		return
	case len(c.pending) >= c.limit:
		c.observer.StoreError("cleanup.dropped")
		c.logger.ErrorContext(ctx, msgLeftBehind, append(attrs, slog.String("reason", "clean-up queue full"))...)
		return
	}
	c.logger.WarnContext(ctx, "cannot clean up after a failed creation yet: retrying in the background",
		append(attrs, slog.Int("pending", len(c.pending)+1))...)
	if len(c.pending) == 0 {
		c.empty = make(chan struct{})
	}
	c.pending[l.key] = l
	if !c.running {
		c.running = true
		go c.run()
	}
	c.nudge()
}

// nudge asks the worker for a round now.
func (c *cleaner) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// count returns how many clean-ups are pending.
func (c *cleaner) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}
