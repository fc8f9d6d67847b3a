package keylock

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockExcludesSameKey(t *testing.T) {
	var table Table
	var holders, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := table.Lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			if holders.Add(1) != 1 {
				overlaps.Add(1)
			}
			runtime.Gosched()
			holders.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d times two goroutines held the same key at once", n)
	}
	if n := table.Len(); n != 0 {
		t.Fatalf("table keeps %d entries after all unlocked, want 0", n)
	}
}

func TestLockDifferentKeysDoNotWait(t *testing.T) {
	var table Table
	unlockA, err := table.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlockB, err := table.Lock(ctx, "b")
	if err != nil {
		t.Fatalf("locking b while a is held: %v", err)
	}
	unlockB()
}

func TestLockWaiterGivesUpWhenContextEnds(t *testing.T) {
	var table Table
	unlock, err := table.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := table.Lock(ctx, "k")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter returned %v, want context.Canceled", err)
	}
	unlock()
	if n := table.Len(); n != 0 {
		t.Fatalf("table keeps %d entries, want 0", n)
	}
	// The key is free again.
	unlock, err = table.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

func TestLockHandsOverToWaiter(t *testing.T) {
	var table Table
	unlock, err := table.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := table.Lock(context.Background(), "k")
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("waiter got the lock while it was held")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	<-got
}

// A context already ended takes nothing, even a free lock: Lock's select
// would otherwise take the lock about half the time.
func TestLockWithAnEndedContextTakesNothing(t *testing.T) {
	var table Table
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 200 {
		unlock, err := table.Lock(ctx, "free")
		if err == nil {
			unlock()
			t.Fatalf("round %d: Lock with an ended context took the free lock", i)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock = %v, want %v", err, context.Canceled)
		}
	}
	if n := table.Len(); n != 0 {
		t.Fatalf("%d keys left in the table, want 0", n)
	}
}
