package keylock

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFlightsOneHolderOthersWaitForIt(t *testing.T) {
	var flights Flights
	unlock, err := flights.LockOrWait(context.Background(), "k")
	if err != nil || unlock == nil {
		t.Fatalf("first LockOrWait = %v, %v; want the lock", unlock != nil, err)
	}
	var waited atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := flights.LockOrWait(context.Background(), "k")
			if u != nil {
				u()
			}
			if err != nil || u != nil {
				t.Errorf("waiter got lock %v, err %v; want to wait for the holder", u != nil, err)
				return
			}
			waited.Add(1)
		}()
	}
	for flights.Waiting() != 100 {
		runtime.Gosched()
	}
	// Different keys are not held up.
	other, err := flights.LockOrWait(context.Background(), "other")
	if err != nil || other == nil {
		t.Fatal("another key was not free")
	}
	other()
	if n := waited.Load(); n != 0 {
		t.Fatalf("%d waiters returned while the lock was held", n)
	}
	unlock()
	wg.Wait()
	if n := flights.Len(); n != 0 {
		t.Fatalf("Len = %d after release, want 0", n)
	}
	again, err := flights.LockOrWait(context.Background(), "k")
	if err != nil || again == nil {
		t.Fatal("the key was not free after release")
	}
	again()
}

func TestFlightsWaiterGivesUp(t *testing.T) {
	var flights Flights
	unlock, _ := flights.LockOrWait(context.Background(), "k")
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := flights.LockOrWait(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
