package keylock

import (
	"context"
	"sync"
)

// Flights is a set of locks named by key for work whose result the waiters
// share: rather than queueing for the lock, a waiter waits for the current
// holder to finish and then looks for that holder's result itself, all
// waiters at once. The zero value is ready to use. It holds an entry only
// for a key whose lock is held.
type Flights struct {
	mu      sync.Mutex
	holders map[string]chan struct{} // closed when the holder unlocks
	waiting int                      // callers waiting for a holder
}

// LockOrWait takes the lock for key if it is free and returns the function
// that releases it; call it exactly once. If another holds the lock, it
// waits until that holder releases it and returns a nil unlock: the caller
// should look for the holder's result and, not finding it, call again. It
// returns ctx's error if ctx ends first.
func (f *Flights) LockOrWait(ctx context.Context, key string) (unlock func(), err error) {
	f.mu.Lock()
	done, held := f.holders[key]
	if !held {
		if f.holders == nil {
			f.holders = make(map[string]chan struct{})
		}
		done = make(chan struct{})
		f.holders[key] = done
		f.mu.Unlock()
		return func() {
			f.mu.Lock()
			delete(f.holders, key)
			f.mu.Unlock()
			close(done)
		}, nil
	}
	f.waiting++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.waiting--
		f.mu.Unlock()
	}()
	select {
	case <-done:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Waiting is the number of callers waiting for a holder. Tests use it to
// know that a caller has begun to wait.
func (f *Flights) Waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

// Len is the number of keys whose lock is held.
func (f *Flights) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.holders)
}
