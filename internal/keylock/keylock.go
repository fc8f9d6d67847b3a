// Package keylock provides mutual exclusion per key, for goroutines that
// must take turns on one key without ever waiting for another key's holder.
package keylock

import (
	"context"
	"sync"
)

// Table is a set of locks named by key. The zero value is ready to use. Its
// own mutex is held only to find or drop an entry, never while waiting, and
// an entry lives only while someone holds or waits for it, so the table
// does not grow beyond the keys in use.
type Table struct {
	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	slot chan struct{} // holds one value while the lock is held
	refs int           // holders plus waiters; guarded by Table.mu
}

// Lock waits until it holds the lock for key or ctx ends. On success it
// returns the function that releases the lock; call it exactly once. If ctx
// ends first, or has ended already, it returns ctx's error and holds
// nothing.
func (t *Table) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // else the select below takes a free lock half the time
	}
	e := t.acquire(key)
	select {
	case e.slot <- struct{}{}:
		return func() {
			<-e.slot
			t.release(key, e)
		}, nil
	case <-ctx.Done():
		t.release(key, e)
		return nil, ctx.Err()
	}
}

// Len is the number of keys held or waited for.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

func (t *Table) acquire(key string) *entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = make(map[string]*entry)
	}
	e := t.entries[key]
	if e == nil {
		e = &entry{slot: make(chan struct{}, 1)}
		t.entries[key] = e
	}
	e.refs++
	return e
}

func (t *Table) release(key string, e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(t.entries, key)
	}
}
