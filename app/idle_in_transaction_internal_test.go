package app

import (
	"math"
	"testing"
	"time"
)

// PostgreSQL's idle-in-transaction timeout is twice the creation timeout,
// saturated: a doubling that overflowed went negative, which postgres.Open
// reads as its 1-minute default, far below a huge creation timeout.
func TestIdleInTransactionTimeoutIsTwiceTheCreationTimeoutSaturated(t *testing.T) {
	for _, tt := range []struct {
		creation, want time.Duration
	}{
		{5 * time.Second, 10 * time.Second},
		{1_300_000 * time.Hour, math.MaxInt64 - 1},
		{math.MaxInt64, math.MaxInt64 - 1},
	} {
		if got := (Config{CreationTimeout: tt.creation}).idleInTransactionTimeout(); got != tt.want {
			t.Errorf("creation timeout %v: idle in transaction %v, want %v", tt.creation, got, tt.want)
		}
	}
}
