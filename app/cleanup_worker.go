package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// run is the worker: a round of attempts whenever something is queued or
// drain asks, and again after a pause that doubles while rounds fail. It
// makes a last round when close stops it.
func (c *cleaner) run() {
	defer close(c.stopped)
	// Background rounds end early when close is called, so that its last
	// round is all that Close waits for.
	stopping, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	delay := minRetryDelay
	for {
		select {
		case <-c.stop: // first, whatever else is ready
			c.round(context.Background(), closeAttempt)
			c.logLeftBehind()
			return
		default:
		}
		var retry <-chan time.Time
		if c.count() > 0 {
			retry = time.After(delay)
		}
		select {
		case <-c.stop:
			c.round(context.Background(), closeAttempt)
			c.logLeftBehind()
			return
		case <-c.wake:
			delay = minRetryDelay
		case <-retry:
		}
		if c.round(stopping, retryAttempt) {
			delay = minRetryDelay
		} else {
			delay = min(2*delay, maxRetryDelay)
		}
	}
}

// attempt is settle, with a panic (a store driver's bug) made an error:
// the worker outlives it, and tries again later.
func (c *cleaner) attempt(ctx context.Context, l leftover) (kept bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			kept, err = false, errCleanupPanicked // not the value: it might quote a token
		}
	}()
	return c.settle(ctx, l)
}

// errCleanupPanicked is why an attempt at a clean-up that panicked failed.
var errCleanupPanicked = errors.New("the attempt panicked")

// round attempts the pending clean-ups within timeout, or until parent
// ends: first those that need only the token store, then those that ask the
// repository whether their commit took effect. It stops at the token
// store's first failure (it is likely still down), and after the
// repository's first failure asks it nothing more in the round, unless
// that failure was a creation still under way (errCreationUnderWay), which
// is that key's trouble only. It reports whether it settled them all.
func (c *cleaner) round(parent context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	all, repositoryDown := true, false
	for _, l := range c.snapshot() {
		if ctx.Err() != nil {
			return false
		}
		if l.mayBeRecorded && repositoryDown {
			all = false
			continue
		}
		kept, err := c.attempt(ctx, l)
		if err != nil {
			c.logger.WarnContext(ctx, "clean-up after a failed creation failed again",
				slog.String("token_key", l.key), slog.Int("pending", c.count()), slog.String("error", err.Error()))
			if errors.Is(err, errRepositoryCheck) {
				all = false
				repositoryDown = !errors.Is(err, errCreationUnderWay)
				continue
			}
			return false
		}
		outcome := "deleted"
		if kept {
			outcome = "kept: its commit took effect"
			// Made after all: the creation its caller could not report.
			c.observer.ChildCreated(l.child.Type)
			logCreated(ctx, c.logger, l.child)
		}
		c.logger.InfoContext(ctx, "cleaned up after a failed creation",
			slog.String("token_key", l.key), slog.String("outcome", outcome))
		c.done(l.key)
	}
	return all
}

// snapshot returns the pending clean-ups, those that need only the token
// store first.
func (c *cleaner) snapshot() []leftover {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]leftover, 0, len(c.pending))
	for _, l := range c.pending {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b leftover) int {
		switch {
		case a.mayBeRecorded == b.mayBeRecorded:
			return 0
		case a.mayBeRecorded:
			return 1
		}
		return -1
	})
	return out
}

// done removes a settled clean-up.
func (c *cleaner) done(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, key)
	if len(c.pending) == 0 {
		close(c.empty)
	}
}

// drain asks the worker for a round now and waits until nothing is
// pending or ctx ends. Once closed, it waits only for the worker's last
// round, if it is still under way, since no worker is left to try again
// after it.
func (c *cleaner) drain(ctx context.Context) error {
	c.mu.Lock()
	empty, n, closed, running := c.empty, len(c.pending), c.closed, c.running
	c.mu.Unlock()
	switch {
	case n == 0:
		return nil
	case closed:
		if running {
			select {
			case <-c.stopped:
			case <-ctx.Done():
				return fmt.Errorf("%d clean-ups still pending: %w", c.count(), ctx.Err())
			}
		}
		if n := c.count(); n > 0 {
			return fmt.Errorf("%d clean-ups left pending: the service is closed", n)
		}
		return nil
	}
	c.nudge()
	select {
	case <-empty:
		return nil
	case <-c.stopped:
		// Closed meanwhile, after the worker's last round: no worker is
		// left to empty the queue.
		if n := c.count(); n > 0 {
			return fmt.Errorf("%d clean-ups left pending: the service is closed", n)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d clean-ups still pending: %w", c.count(), ctx.Err())
	}
}

// close stops the worker after a last round, and logs what is left; every
// call returns once the worker has stopped. Later clean-ups are tried once
// and logged if they fail.
func (c *cleaner) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	running := c.running
	c.mu.Unlock()
	if running {
		<-c.stopped
	}
}

// logLeftBehind logs each clean-up that could not be done before close.
func (c *cleaner) logLeftBehind() {
	for _, l := range c.snapshot() {
		c.logger.Error(msgLeftBehind, slog.String("token_key", l.key), slog.String("reason", "service closed"))
	}
}
