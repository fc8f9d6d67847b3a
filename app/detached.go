package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// errCreationTimeout is the cause of a work context whose creation timeout
// (Config.CreationTimeout) ran out.
var errCreationTimeout = errors.New("creation timeout")

// errWorkStopped is what a caller gets if its work ended without
// returning or panicking (runtime.Goexit).
var errWorkStopped = errors.New("the work on the token stopped before its end")

// runLocked runs getChildLocked for a request that holds key's lock, on a
// goroutine of its own and on a context detached from ctx, bounded by the
// creation timeout; when the work ends it releases the lock, handing its
// outcome to the requests that waited for it. runLocked returns that
// outcome, or ctx's error as soon as ctx ends, before the work does.
//
// The work goes on without the caller, though behind the work other
// callers wait for (see abandoned.go), because stopping it costs more than
// finishing it: a statement interrupted mid-way takes its connection with
// it (the repository closes a connection it can no longer trust, and a new
// one costs a handshake), and the child half made would be discarded. It
// is cached instead, for the caller's next request.
//
// A caller whose context has already ended starts no work. The work runs
// at most once per key at a time, for at most the creation timeout plus
// the brief attempts at clean-up that follow a failure, and DrainCleanups
// and Close wait for it. A panic in it reaches the caller if the caller is
// still waiting, and is logged otherwise.
func (s *TokenCacheService) runLocked(ctx context.Context, req *domain.ChildRequest, key domain.CacheKey, rejected domain.Token, unlock func(*outcome)) (domain.Token, error) {
	if err := ctx.Err(); err != nil {
		// Under overload, requests that waited past their deadline must
		// not each still make a child.
		unlock(nil)
		return domain.Token{}, fmt.Errorf("before looking for the %s token: %w", req.Type, err)
	}
	finished, ok := s.inFlight.start()
	if !ok {
		unlock(nil)
		return domain.Token{}, fmt.Errorf("before looking for the %s token: %w", req.Type, ErrClosed)
	}
	h := newHandoff(ctx)
	// Live until the caller has its answer or leaves.
	defer s.live.enter()()
	// The work's own copy, slices included: it may outlive the call, after
	// which the caller may reuse what it passed in. The caller's request
	// stays on its stack, which matters when a thousand callers wait for
	// one holder.
	detached := *req
	detached.Parent = req.Parent.Clone()
	detached.Scopes = slices.Clone(req.Scopes)
	go func() {
		defer finished()
		s.work(ctx, h, unlock, func(work context.Context) outcome {
			return s.getChildLocked(work, &detached, key, rejected, &audience{h: h, key: string(key)})
		})
	}()
	select {
	case e := <-h.done:
		return e.result()
	case <-ctx.Done():
	}
	if e, ok := h.leave(); ok { // work that ended just as ctx did still counts
		return e.result()
	}
	return domain.Token{}, fmt.Errorf("waiting for the work on the %s token: %w", req.Type, ctx.Err())
}

// work runs do on a context detached from ctx and bounded by the creation
// timeout, then hands what do returned to the waiters (through unlock) and
// to the caller (through h). Whatever ends do, a panic included, the lock
// is released.
func (s *TokenCacheService) work(ctx context.Context, h *handoff, unlock func(*outcome), do func(context.Context) outcome) {
	wctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), s.creationTimeout, errCreationTimeout)
	defer cancel()
	e := ended{o: outcome{err: errWorkStopped}}
	returned := false
	defer func() {
		if v := recover(); v != nil {
			e.panicked, e.panicValue = true, v
		}
		if returned {
			unlock(shareable(wctx, &e.o))
		} else {
			unlock(nil)
		}
		switch delivered := h.deliver(e); {
		case delivered:
		case e.panicked:
			// Not the value: it might quote a token.
			s.logger.ErrorContext(wctx, "work on a token panicked after its caller had left")
		case e.o.err != nil && !errors.Is(e.o.err, domain.ErrTooManyChildren):
			// Errors never hold a secret.
			s.logger.WarnContext(wctx, "work on a token failed after its caller had left", slog.String("error", e.o.err.Error()))
		}
	}()
	e.o = do(wctx)
	returned = true
}

// ended is how detached work ended.
type ended struct {
	o          outcome
	panicked   bool
	panicValue any
}

// result is what the caller returns: the outcome's token and error, or the
// work's panic raised again.
func (e ended) result() (domain.Token, error) {
	if e.panicked {
		panic(e.panicValue)
	}
	return e.o.child.Token, e.o.err
}

// handoff passes the end of detached work to its caller, unless the caller
// has left.
type handoff struct {
	mu   sync.Mutex
	left bool
	// when is when the caller said it left (leave).
	when time.Time
	done chan ended // buffered: delivering never blocks
	// gone is the caller's context's Done: once it is closed the caller
	// is leaving, though it may not have said so yet (leave).
	gone <-chan struct{}
}

// newHandoff returns the handoff to a caller whose context is ctx.
func newHandoff(ctx context.Context) *handoff {
	return &handoff{done: make(chan ended, 1), gone: ctx.Done()}
}

// deliver hands e to the caller and reports whether the caller was still
// there to take it.
func (h *handoff) deliver(e ended) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.left {
		return false
	}
	h.done <- e
	return true
}

// hasLeft reports whether the caller has left, or is leaving: its context
// has ended. Whether the work's end is still handed to it is up to deliver.
func (h *handoff) hasLeft() bool {
	select {
	case <-h.gone:
		return true
	default:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.left
}

// leave marks the caller gone, unless the work has ended meanwhile: then
// it returns how, and true.
func (h *handoff) leave() (ended, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case e := <-h.done:
		return e, true
	default:
		h.left, h.when = true, time.Now()
		return ended{}, false
	}
}

// leftAt returns when the caller left, or now if it has not said so yet.
func (h *handoff) leftAt(now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.left {
		return h.when
	}
	return now
}
