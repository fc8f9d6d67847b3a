package redis

import (
	"context"
	"testing"
	"time"
)

func TestAckTimeout(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0 for none
		want     time.Duration
	}{
		{"no deadline", 0, time.Second},
		{"deadline far away", time.Minute, time.Second},
		{"deadline nearer than the timeout", 500 * time.Millisecond, 500*time.Millisecond - ackMargin},
		{"sub-millisecond part dropped", 500*time.Millisecond + 700*time.Microsecond, 500*time.Millisecond - ackMargin},
		{"deadline within the margin", ackMargin / 2, time.Millisecond},
		{"deadline passed", -time.Second, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.deadline != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tt.deadline))
				defer cancel()
			}
			if got := ackTimeout(ctx, now, time.Second); got != tt.want {
				t.Errorf("ackTimeout = %v, want %v", got, tt.want)
			}
		})
	}
}
