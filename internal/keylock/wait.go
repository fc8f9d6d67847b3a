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
	holders sync.Map // key to its *flight[R], while its lock is held
	// waiting counts the callers waiting for a holder.
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
	// Those that find the lock held come in herds: the look-up takes no
	// lock, so that they never queue on one.
	if held, ok := f.holders.Load(key); ok {
		return f.wait(ctx, held.(*flight[R]))
	}
	fl := &flight[R]{done: make(chan struct{})}
	if held, loaded := f.holders.LoadOrStore(key, fl); loaded {
		return f.wait(ctx, held.(*flight[R]))
	}
	return func(result R) {
		fl.result = result
		f.holders.CompareAndDelete(key, fl)
		close(fl.done)
	}, result, nil
}

// wait waits for fl's holder to release the lock, or for ctx to end. fl
// may have been released already: then it returns at once.
func (f *Flights[R]) wait(ctx context.Context, fl *flight[R]) (unlock func(R), result R, err error) {
	f.waiting.Add(1)
	fl.waiting.Add(1)
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
	held, ok := f.holders.Load(key)
	if !ok {
		return 0
	}
	return int(held.(*flight[R]).waiting.Load())
}

// Len is the number of keys whose lock is held.
func (f *Flights[R]) Len() int {
	n := 0
	f.holders.Range(func(any, any) bool {
		n++
		return true
	})
	return n
}
