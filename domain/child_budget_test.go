package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestChildBudgetCheck(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 500_000_000, time.UTC)
	hour := domain.ChildBudget{Max: 3, Window: time.Hour}
	tests := []struct {
		name        string
		budget      domain.ChildBudget
		recent      domain.ChildCount
		wantRefused bool
		wantRetryAt time.Time // zero: none
	}{
		{
			name:   "room for one more",
			budget: hour,
			recent: domain.ChildCount{N: 2, LastToLeave: now.Add(-30 * time.Minute)},
		},
		{
			name:        "full: retry the second after the oldest leaves the window",
			budget:      hour,
			recent:      domain.ChildCount{N: 3, LastToLeave: time.Date(2026, 11, 28, 11, 20, 0, 0, time.UTC)},
			wantRefused: true,
			wantRetryAt: time.Date(2026, 11, 28, 12, 20, 1, 0, time.UTC),
		},
		{
			name:        "over the bound, as concurrent creations can leave it: the third newest must leave",
			budget:      hour,
			recent:      domain.ChildCount{N: 5, LastToLeave: time.Date(2026, 11, 28, 11, 59, 59, 0, time.UTC)},
			wantRefused: true,
			wantRetryAt: time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC),
		},
		{
			// Counted until now - 1.5s reaches 12:00:01, at 12:00:02.5.
			name:        "a window of fractional seconds rounds the retry up",
			budget:      domain.ChildBudget{Max: 1, Window: 1500 * time.Millisecond},
			recent:      domain.ChildCount{N: 1, LastToLeave: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
			wantRefused: true,
			wantRetryAt: time.Date(2026, 11, 28, 12, 0, 3, 0, time.UTC),
		},
		{
			name:        "a bound of zero refuses every creation, with no time to retry",
			budget:      domain.ChildBudget{Max: 0, Window: time.Hour},
			wantRefused: true,
		},
		{
			name:        "a bound of zero, with children in the window, still gives no time to retry",
			budget:      domain.ChildBudget{Max: 0, Window: time.Hour},
			recent:      domain.ChildCount{N: 2, LastToLeave: now.Add(-time.Minute)},
			wantRefused: true,
		},
		{
			name:   "no bound",
			budget: domain.ChildBudget{Max: -1, Window: time.Hour},
			recent: domain.ChildCount{N: 1_000_000, LastToLeave: now.Add(-time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.budget.Check(tt.recent, now)
			if !tt.wantRefused {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, domain.ErrTooManyChildren) {
				t.Fatalf("Check = %v, want ErrTooManyChildren", err)
			}
			var tooMany *domain.TooManyChildrenError
			if !errors.As(err, &tooMany) {
				t.Fatalf("Check = %T, want *TooManyChildrenError", err)
			}
			if tooMany.Max != tt.budget.Max || tooMany.Window != tt.budget.Window || !tooMany.RetryAt.Equal(tt.wantRetryAt) {
				t.Fatalf("Check = %+v; want max %d, window %v, retry at %v",
					tooMany, tt.budget.Max, tt.budget.Window, tt.wantRetryAt)
			}
		})
	}
}

func TestChildBudgetSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	b := domain.ChildBudget{Max: 3, Window: 15 * time.Minute}
	if got, want := b.Since(now), now.Add(-15*time.Minute); !got.Equal(want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
	// Creation times are stored to the second, rounded down: the window
	// starts at a whole second, so that a child stored at a second counts
	// for as long as it may have been made within the window.
	within := now.Add(900 * time.Millisecond)
	if got, want := b.Since(within), now.Add(-15*time.Minute); !got.Equal(want) {
		t.Fatalf("Since(%v) = %v, want %v", within.Format(time.StampMilli), got, want)
	}
	if got, want := b.WindowAt(within), (domain.ChildWindow{Since: now.Add(-15 * time.Minute), Max: 3}); got != want {
		t.Fatalf("WindowAt(%v) = %+v, want %+v", within.Format(time.StampMilli), got, want)
	}
	if (domain.ChildBudget{Max: -1}).Bounded() || !b.Bounded() || !(domain.ChildBudget{Max: 0}).Bounded() {
		t.Fatal("Bounded: want false for a negative Max only")
	}
}

func TestTooManyChildrenErrorSaysTheBudget(t *testing.T) {
	err := &domain.TooManyChildrenError{Max: 100, Window: time.Hour}
	if got, want := err.Error(), "too many child tokens: the parent has created 100 within 1h0m0s"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
