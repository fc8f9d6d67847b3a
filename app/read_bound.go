package app

import (
	"context"
	"sync/atomic"
	"time"
)

// readBounds bounds reads of cached children by the creation timeout (see
// readCached) for callers whose context sets no earlier deadline.
//
// A context of its own for each read would cost a timer armed and stopped
// on every cache hit, which measured some 5 % of a Redis round trip on the
// library's hit path. A caller that can never cancel (its Done is nil, as
// for context.Background) needs no timer of its own: such reads share one
// deadline, made afresh once it is a hundredth of the timeout older, so
// that each read still ends within the creation timeout and no earlier
// than 99 % of it. Shared deadlines are never cancelled early, as reads
// may still use them; each one's timer ends it at its deadline, so no
// more than about a hundred are alive at once.
type readBounds struct {
	timeout time.Duration
	shared  atomic.Pointer[sharedBound]
}

type sharedBound struct {
	ctx      context.Context
	deadline time.Time
	cancel   context.CancelFunc // called by its timer at the deadline
}

// within returns ctx bounded by the creation timeout, and the function to
// call once the read is over.
func (b *readBounds) within(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= b.timeout {
		return ctx, func() {}
	}
	if ctx.Done() != nil {
		return context.WithTimeoutCause(ctx, b.timeout, errCreationTimeout)
	}
	return boundedValues{Context: b.current().ctx, values: ctx}, func() {}
}

// current returns a shared deadline that ends within the creation timeout
// from now and no earlier than 99 % of it, making one if need be. Two
// reads may each make one at the same moment: the last stored is shared.
func (b *readBounds) current() *sharedBound {
	now := time.Now()
	if s := b.shared.Load(); s != nil && s.deadline.Sub(now) >= b.timeout-b.timeout/100 {
		return s
	}
	deadline := now.Add(b.timeout)
	ctx, cancel := context.WithDeadlineCause(context.Background(), deadline, errCreationTimeout)
	s := &sharedBound{ctx: ctx, deadline: deadline, cancel: cancel}
	b.shared.Store(s)
	return s
}

// boundedValues is a shared deadline (Deadline, Done, Err and its
// cancellation's cause, which context.Cause finds through Value) carrying
// the values of the caller's context, which never ends on its own.
type boundedValues struct {
	context.Context
	values context.Context
}

func (c boundedValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}
