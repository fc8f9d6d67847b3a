package keylock

import (
	"context"
	"sync"
	"sync/atomic"
)

// Flights is a set of locks named by key for work whose result the waiters
// share: rather than queueing for the lock, a waiter waits for the current
// holder to finish and takes the result that holder hands over, all waiters
// at once. R is the type of that result. The zero value is ready to use.
// It holds an entry only for a key whose lock is held.
type Flights[R any] struct {
	mu      sync.Mutex
	holders map[string]*flight[R]
	// waiting counts the callers waiting for a holder. It is not guarded
	// by mu: a herd woken at once would queue on mu just to leave.
	waiting atomic.Int64
}

// flight is one holding of a key's lock.
type flight[R any] struct {
	done    chan struct{} // closed when the holder unlocks
	result  R             // set before done is closed, read only after
	waiting atomic.Int64  // the callers waiting for this holder
}

// LockOrWait takes the lock for key if it is free and returns the function
// that releases it, which hands its argument to the callers waiting for
// it; call it exactly once. If another holds the lock, it waits until that
// holder releases it and returns a nil unlock with the holder's result:
// the caller should use that result if it will do and otherwise call
// again. It returns ctx's error if ctx ends first.
func (f *Flights[R]) LockOrWait(ctx context.Context, key string) (unlock func(R), result R, err error) {
	f.mu.Lock()
	fl, held := f.holders[key]
	if !held {
		if f.holders == nil {
			f.holders = make(map[string]*flight[R])
		}
		fl = &flight[R]{done: make(chan struct{})}
		f.holders[key] = fl
		f.mu.Unlock()
		return func(result R) {
			fl.result = result
			f.mu.Lock()
			delete(f.holders, key)
			f.mu.Unlock()
			close(fl.done)
		}, result, nil
	}
	f.waiting.Add(1)
	fl.waiting.Add(1)
	f.mu.Unlock()
	defer func() {
		fl.waiting.Add(-1)
		f.waiting.Add(-1)
	}()
	select {
	case <-fl.done:
		return nil, fl.result, nil
	case <-ctx.Done():
		return nil, result, ctx.Err()
	}
}

// Waiting is the number of callers waiting for a holder. Tests use it to
// know that a caller has begun to wait.
func (f *Flights[R]) Waiting() int {
	return int(f.waiting.Load())
}

// WaitingFor is the number of callers waiting for the holder of key's
// lock, 0 if nobody holds it.
func (f *Flights[R]) WaitingFor(key string) int {
	f.mu.Lock()
	fl, held := f.holders[key]
	f.mu.Unlock()
	if !held {
		return 0
	}
	return int(fl.waiting.Load())
}

// Len is the number of keys whose lock is held.
func (f *Flights[R]) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.holders)
}
