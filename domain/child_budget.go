package domain

import (
	"fmt"
	"time"
)

// ChildBudget bounds how many children one parent may create within a
// sliding window, so that a client naming a new service on every request
// cannot fill the stores with children of one token. It bounds creation
// only: an existing child that may be reused is handed out whatever the
// budget says.
type ChildBudget struct {
	Max    int           // children per window; negative: no bound
	Window time.Duration // how far back creations count
}

// ChildCount is what a repository counted in a ChildWindow: how many
// children of one parent were created within it (N), and when the Max-th
// newest of them was created (LastToLeave; zero when fewer than Max were
// counted). That child is the last that must leave the window before the
// parent has room for one more, however many more than Max it holds.
type ChildCount struct {
	N           int
	LastToLeave time.Time
}

// ChildWindow is what a repository counts for a ChildBudget: the children
// of one parent created at or after Since, and of them the Max-th newest.
type ChildWindow struct {
	Since time.Time
	Max   int
}

// Bounded reports whether b bounds anything.
func (b ChildBudget) Bounded() bool { return b.Max >= 0 }

// Since is the start of the window that ends at now: children created at
// or after it count against the budget. Creation times are stored to the
// second, rounded down, so a child stored at a second may have been made
// up to a second later: the window starts at a whole second, and such a
// child counts for as long as it may have been made within it, until the
// Retry-After that Check gives. A creation is refused at most a second
// longer than the window says, never allowed early.
func (b ChildBudget) Since(now time.Time) time.Time { return now.Add(-b.Window).Truncate(time.Second) }

// WindowAt is what a repository counts to Check a creation at now.
func (b ChildBudget) WindowAt(now time.Time) ChildWindow {
	return ChildWindow{Since: b.Since(now), Max: b.Max}
}

// Check returns nil if a parent whose children a repository counted in
// b.WindowAt(now) as recent may create one more; otherwise a
// *TooManyChildrenError, which wraps ErrTooManyChildren.
//
// A parent may hold more children than Max in the window: those made by
// Gafaelfawr, which has no bound, by creations running at once, each
// counting before the others commit, or before Max was lowered. Room for
// one more comes when all but Max-1 have left, so the Retry-After goes by
// the Max-th newest, not by the oldest.
func (b ChildBudget) Check(recent ChildCount, now time.Time) error {
	if !b.Bounded() || recent.N < b.Max {
		return nil
	}
	e := &TooManyChildrenError{Max: b.Max, Window: b.Window}
	if b.Max > 0 && !recent.LastToLeave.IsZero() {
		e.RetryAt = b.leaves(recent.LastToLeave)
	}
	return e
}

// leaves is when a child stored as created at created stops counting:
// Since passes it once now - Window reaches the next whole second, and a
// client reading a Retry-After of whole seconds may come at the first
// whole second from then on.
func (b ChildBudget) leaves(created time.Time) time.Time {
	gone := created.Truncate(time.Second).Add(time.Second + b.Window)
	if whole := gone.Truncate(time.Second); whole.Before(gone) {
		return whole.Add(time.Second)
	}
	return gone
}

// TooManyChildrenError is the error of a child refused by a ChildBudget.
type TooManyChildrenError struct {
	Max     int
	Window  time.Duration
	RetryAt time.Time // when one more child may be created; zero: never (Max is 0)
}

// Error says what the budget is, never which token hit it.
func (e *TooManyChildrenError) Error() string {
	return fmt.Sprintf("%v: the parent has created %d within %v", ErrTooManyChildren, e.Max, e.Window)
}

// Unwrap returns ErrTooManyChildren.
func (e *TooManyChildrenError) Unwrap() error { return ErrTooManyChildren }
