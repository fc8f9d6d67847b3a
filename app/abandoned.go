package app

import (
	"context"
	"sync"
	"time"
)

// Work runs detached from its caller (runLocked) and goes on when the
// caller leaves. Work that nobody waits for any more, neither its caller
// nor a request for the same child, is abandoned: it still finishes, so
// that its child is cached and its connection kept, but it lets the work
// that callers wait for go first. Beside a creation a caller waits for, an
// abandoned creation costs that caller half as much time again on two
// cores (docs/performance.md); before each of its repository steps,
// abandoned work waits until no such work runs and abandonedQuiet has
// passed since its caller left, for at most abandonedYieldLimit in all.
const (
	// abandonedYieldLimit bounds how long, in all, abandoned work lets
	// live work go first: under a steady stream of creations it would
	// otherwise never finish, and it holds a connection meanwhile, and,
	// from its first lookup on, the repository's lock for its child.
	abandonedYieldLimit = 20 * time.Millisecond

	// abandonedQuiet is how long after its caller left abandoned work
	// waits, even with no live work: a caller's next request tends to
	// follow its departure at once, and would otherwise find the abandoned
	// work already writing beside it.
	abandonedQuiet = time.Millisecond

	// abandonedRecheck is how often yielding abandoned work looks whether
	// a request has come to wait for it, which makes it live again.
	abandonedRecheck = time.Millisecond
)

// liveWork counts the detached work that a caller still waits for, and
// lets abandoned work wait until there is none. It is safe for concurrent
// use.
type liveWork struct {
	mu   sync.Mutex
	live int
	// idle is made while live work runs and abandoned work waits for it
	// to end, and closed when live drops to 0; nil otherwise.
	idle chan struct{}
	// yielding counts the abandoned work waiting now; at most
	// maxYielding may wait, so that abandoned work, each holding a
	// repository connection while it waits, never holds the connections
	// live work needs.
	yielding, maxYielding int
}

// newLiveWork returns a liveWork for a repository pool of maxConnections:
// a quarter of them, and at least one, may be held by yielding abandoned
// work.
func newLiveWork(maxConnections int) *liveWork {
	return &liveWork{maxYielding: max(1, maxConnections/4)}
}

// enter counts one more piece of live work and returns the function that
// counts it out; call that exactly once, when its caller has its answer
// or has left.
func (l *liveWork) enter() (leave func()) {
	l.mu.Lock()
	l.live++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.live--
		if l.live == 0 && l.idle != nil {
			close(l.idle)
			l.idle = nil
		}
	}
}

// yield waits until no live work runs and quietUntil has passed, until is
// reached, ctx ends or abandoned (asked every abandonedRecheck) reports
// that the work is abandoned no more. It returns at once if that is so
// already or as much abandoned work as may is already waiting.
func (l *liveWork) yield(ctx context.Context, until, quietUntil time.Time, abandoned func() bool) {
	l.mu.Lock()
	if (l.live == 0 && !time.Now().Before(quietUntil)) || l.yielding >= l.maxYielding {
		l.mu.Unlock()
		return
	}
	l.yielding++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.yielding--
		l.mu.Unlock()
	}()

	limit := time.NewTimer(time.Until(until))
	defer limit.Stop()
	recheck := time.NewTicker(abandonedRecheck)
	defer recheck.Stop()
	quiet := time.NewTimer(time.Until(quietUntil))
	defer quiet.Stop()
	for {
		// Wait for the live work to end, and for quietUntil.
		l.mu.Lock()
		var idle <-chan struct{}
		if l.live > 0 {
			if l.idle == nil {
				l.idle = make(chan struct{})
			}
			idle = l.idle
		}
		l.mu.Unlock()
		quietPassed := !time.Now().Before(quietUntil)
		if idle == nil && quietPassed {
			return
		}
		var quietEnds <-chan time.Time
		if !quietPassed {
			quietEnds = quiet.C
		}
		select {
		case <-idle:
			// The gap: the live work may begin again before this runs on
			// (always, on one core), and the gap is what it waited for.
			if quietPassed {
				return
			}
		case <-quietEnds:
		case <-limit.C:
			return
		case <-ctx.Done():
			return
		case <-recheck.C:
			if !abandoned() {
				return
			}
		}
	}
}

// audience is who may still wait for one piece of detached work: its
// caller, through h, and the requests waiting for the lock on key.
type audience struct {
	h   *handoff
	key string
	// until is when the work stops yielding, and quietUntil
	// abandonedQuiet after its caller left; both set when it first yields.
	until, quietUntil time.Time
}

// abandoned reports whether nobody waits for the work any more.
func (s *TokenCacheService) abandoned(a *audience) bool {
	return a.h.hasLeft() && s.flights.WaitingFor(a.key) == 0
}

// yieldIfAbandoned lets live work go first if nobody waits for the work a
// is the audience of (see liveWork.yield). Work with no audience (nil)
// never yields.
func (s *TokenCacheService) yieldIfAbandoned(ctx context.Context, a *audience) {
	if a == nil || !s.abandoned(a) {
		return
	}
	if a.until.IsZero() {
		now := time.Now()
		a.until = now.Add(s.abandonedYieldLimit)
		a.quietUntil = a.h.leftAt(now).Add(s.abandonedQuiet)
	}
	s.live.yield(ctx, a.until, a.quietUntil, func() bool { return s.abandoned(a) })
}
