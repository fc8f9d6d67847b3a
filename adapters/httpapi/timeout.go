package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// DefaultRequestTimeout bounds a request when Config leaves it at zero.
const DefaultRequestTimeout = 10 * time.Second

// errRequestTimeout is the cause of a request context that timed out, which
// tells a timeout from a client that went away.
var errRequestTimeout = errors.New("request timeout")

// withTimeout gives each request a deadline that the stores honour, so
// that a stuck store yields a 503 rather than a request that hangs until
// nginx gives up. /auth/delegate sets its own, in delegateBy: what it
// serves from process memory needs none.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeoutCause(r.Context(), d, errRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// delegateBy runs lookUp on a worker under the request's deadline and
// returns what it returns, or a 503 once that deadline passes (or the
// client goes away) even if lookUp is still blocked: lookUp then runs on,
// detached, on a copy of r with request info of its own, whose result is
// dropped.
func (h *delegateHandler) delegateBy(r *http.Request, c *claim) (delegation, *problem) {
	type result struct {
		d delegation
		p *problem
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), h.timeout, errRequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	own := &requestInfo{}
	// A shallow copy: nothing here or in net/http writes to a request's
	// header or URL once it is read, so the detached work may go on
	// reading them after the handler has returned.
	detached := r.WithContext(context.WithValue(ctx, requestInfoKey{}, own))
	res, ok := untilDone(ctx, h.workers, func() result {
		d, p := h.lookUp(detached, c)
		return result{d, p}
	}, func(any) {
		// Not the value: it might quote a token.
		h.logger.ErrorContext(detached.Context(), "handler work panicked after its request was answered",
			slog.String("path", bounded(r.URL.Path)))
	})
	if !ok {
		return delegation{}, failure(r, context.Cause(ctx))
	}
	*requestInfoFrom(ctx) = *own
	return res.d, res.p
}

// outcomeOf is what detached work returned, or the panic it raised.
type outcomeOf[T any] struct {
	value    T
	panicked bool
	panicVal any
}

// untilDone runs work on one of pool's goroutines and returns its value,
// or false as soon as ctx ends: the answer must not wait for a store call
// stuck past the request's deadline (a driver may block in a read after
// its context ended). The work goes on, detached, until it returns, which
// the stores' own bounds make soon, and its value is dropped; it must not
// touch the ResponseWriter. A panic in work is raised again here if it
// comes in time, and otherwise handed to dropped (if not nil), so that it
// is not lost without a trace.
func untilDone[T any](ctx context.Context, pool *workers, work func() T, dropped func(any)) (T, bool) {
	done := make(chan outcomeOf[T], 1)
	var mu sync.Mutex
	left := false // the caller returned without the work's outcome
	pool.run(func() {
		var o outcomeOf[T]
		defer func() {
			if v := recover(); v != nil {
				o.panicked, o.panicVal = true, v
			}
			mu.Lock()
			gone := left
			if !gone {
				done <- o
			}
			mu.Unlock()
			if gone && o.panicked && dropped != nil {
				dropped(o.panicVal)
			}
		}()
		o.value = work()
	})
	select {
	case o := <-done:
		return o.get(), true
	case <-ctx.Done():
	}
	mu.Lock()
	select { // work that ended just as ctx did still counts
	case o := <-done:
		mu.Unlock()
		return o.get(), true
	default:
		left = true
		mu.Unlock()
		var zero T
		return zero, false
	}
}

func (o outcomeOf[T]) get() T {
	if o.panicked {
		panic(o.panicVal)
	}
	return o.value
}
