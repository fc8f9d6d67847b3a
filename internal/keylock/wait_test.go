package keylock

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

func TestFlightsOneHolderOthersWaitForIt(t *testing.T) {
	var flights Flights[int]
	unlock, _, err := flights.LockOrWait(context.Background(), "k")
	if err != nil || unlock == nil {
		t.Fatalf("first LockOrWait = %v, %v; want the lock", unlock != nil, err)
	}
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, result, err := flights.LockOrWait(context.Background(), "k")
			if u != nil {
				u(0)
			}
			if err != nil || u != nil {
				t.Errorf("waiter got lock %v, err %v; want to wait for the holder", u != nil, err)
				return
			}
			results <- result
		}()
	}
	for flights.Waiting() != 100 {
		runtime.Gosched()
	}
	// Different keys are not held up.
	other, _, err := flights.LockOrWait(context.Background(), "other")
	if err != nil || other == nil {
		t.Fatal("another key was not free")
	}
	other(0)
	if n := len(results); n != 0 {
		t.Fatalf("%d waiters returned while the lock was held", n)
	}
	unlock(42)
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		n++
		if r != 42 {
			t.Fatalf("a waiter got %d, want the holder's 42", r)
		}
	}
	if n != 100 {
		t.Fatalf("%d waiters got the holder's result, want 100", n)
	}
	if n := flights.Len(); n != 0 {
		t.Fatalf("Len = %d after release, want 0", n)
	}
	again, _, err := flights.LockOrWait(context.Background(), "k")
	if err != nil || again == nil {
		t.Fatal("the key was not free after release")
	}
	again(0)
}

func TestFlightsEachHolderHandsOverItsOwnResult(t *testing.T) {
	var flights Flights[string]
	for _, want := range []string{"first", "second"} {
		unlock, _, _ := flights.LockOrWait(context.Background(), "k")
		got := make(chan string, 1)
		go func() {
			_, result, _ := flights.LockOrWait(context.Background(), "k")
			got <- result
		}()
		for flights.Waiting() != 1 {
			runtime.Gosched()
		}
		unlock(want)
		if r := <-got; r != want {
			t.Fatalf("waiter got %q, want %q", r, want)
		}
	}
}

func TestFlightsWaiterGivesUp(t *testing.T) {
	var flights Flights[int]
	unlock, _, _ := flights.LockOrWait(context.Background(), "k")
	defer unlock(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := flights.LockOrWait(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := flights.Waiting(); n != 0 {
		t.Fatalf("Waiting = %d after the waiter gave up, want 0", n)
	}
}

func TestFlightsWaitingForCountsOneKeysWaiters(t *testing.T) {
	var flights Flights[int]
	if n := flights.WaitingFor("k"); n != 0 {
		t.Fatalf("WaitingFor a free key = %d, want 0", n)
	}
	unlock, _, _ := flights.LockOrWait(context.Background(), "k")
	other, _, _ := flights.LockOrWait(context.Background(), "other")
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, _, err := flights.LockOrWait(ctx, "k")
		left <- err
	}()
	stays := make(chan struct{})
	go func() {
		defer close(stays)
		_, _, _ = flights.LockOrWait(context.Background(), "k")
	}()
	for flights.WaitingFor("k") != 2 {
		runtime.Gosched()
	}
	if n := flights.WaitingFor("other"); n != 0 {
		t.Fatalf("WaitingFor another held key = %d, want 0", n)
	}
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter that left got %v, want context.Canceled", err)
	}
	if n := flights.WaitingFor("k"); n != 1 {
		t.Fatalf("WaitingFor after one waiter left = %d, want 1", n)
	}
	unlock(1)
	<-stays
	if n := flights.WaitingFor("k"); n != 0 {
		t.Fatalf("WaitingFor after release = %d, want 0", n)
	}
	other(0)
}
