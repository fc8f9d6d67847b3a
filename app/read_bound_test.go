package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

type readBoundKey struct{}

// A caller that can never cancel gets a deadline within the creation
// timeout, shared by the reads of the same moment, with its own values.
func TestReadBoundsShareOneDeadlineForCallersThatCannotCancel(t *testing.T) {
	const timeout = 10 * time.Second
	b := &readBounds{timeout: timeout}
	caller := context.WithValue(context.Background(), readBoundKey{}, "caller's")
	before := time.Now()
	first, cancel := b.within(caller)
	defer cancel()
	second, cancel2 := b.within(context.Background())
	defer cancel2()
	after := time.Now()

	deadline, ok := first.Deadline()
	if !ok || deadline.After(after.Add(timeout)) || deadline.Before(before.Add(timeout-timeout/100)) {
		t.Errorf("deadline %v after the call (ok %v), want within [%v, %v] of it",
			deadline.Sub(before), ok, timeout-timeout/100, timeout)
	}
	if d2, _ := second.Deadline(); !d2.Equal(deadline) {
		t.Errorf("the next read's deadline is %v after the first's, want the same one", d2.Sub(deadline))
	}
	if v := first.Value(readBoundKey{}); v != "caller's" {
		t.Errorf("the caller's value reads as %v", v)
	}
	if first.Done() == nil || first.Err() != nil {
		t.Errorf("Done %v, Err %v: want a context that can end and has not", first.Done(), first.Err())
	}
}

// A shared deadline ends the read at its time, with the creation
// timeout as its cause, and a later read gets a new one once the shared
// one is a hundredth of the timeout old.
func TestReadBoundsSharedDeadlineEndsTheRead(t *testing.T) {
	const timeout = 100 * time.Millisecond
	b := &readBounds{timeout: timeout}
	start := time.Now()
	ctx, cancel := b.within(context.Background())
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(10 * timeout):
		t.Fatal("the read's context did not end")
	}
	if elapsed := time.Since(start); elapsed < timeout-timeout/100 {
		t.Errorf("ended after %v, before 99%% of the %v timeout", elapsed, timeout)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), errCreationTimeout) {
		t.Errorf("Err %v, Cause %v: want the deadline exceeded by the creation timeout", ctx.Err(), context.Cause(ctx))
	}
	next, cancel2 := b.within(context.Background())
	defer cancel2()
	if next.Err() != nil {
		t.Errorf("a read after the shared deadline ended got an ended context: %v", next.Err())
	}
	if d, _ := next.Deadline(); time.Until(d) < timeout-timeout/100 {
		t.Errorf("a read after the shared deadline ended has %v left, want at least %v", time.Until(d), timeout-timeout/100)
	}
}

// A caller with a deadline of its own within the timeout keeps it; one
// that can cancel keeps that too, bounded by the timeout.
func TestReadBoundsKeepTheCallersEnd(t *testing.T) {
	const timeout = 10 * time.Second
	b := &readBounds{timeout: timeout}

	t.Run("earlier deadline", func(t *testing.T) {
		caller, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ctx, done := b.within(caller)
		defer done()
		if ctx != caller {
			t.Errorf("got %v, want the caller's own context", ctx)
		}
	})
	for _, tc := range []struct {
		name   string
		caller func() (context.Context, context.CancelFunc)
	}{
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"later deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Hour)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller, cancel := tc.caller()
			ctx, done := b.within(caller)
			defer done()
			if d, ok := ctx.Deadline(); !ok || time.Until(d) > timeout {
				t.Errorf("deadline %v from now (ok %v), want within %v", time.Until(d), ok, timeout)
			}
			cancel()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
				t.Fatal("the read goes on after its caller cancelled")
			}
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("Err %v, want the caller's cancellation", ctx.Err())
			}
		})
	}
}
