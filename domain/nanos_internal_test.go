package domain

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// appendNanos writes UnixNano where UnixNano is defined, and goes on
// where it overflows.
func TestAppendNanos(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"epoch", time.Unix(0, 0), "0"},
		{"a nanosecond after", time.Unix(0, 1), "1"},
		{"a nanosecond before", time.Unix(0, -1), "-1"},
		{"half a second before", time.Unix(0, -5e8), "-500000000"},
		{"whole seconds", time.Unix(1_900_000_000, 0), "1900000000000000000"},
		{"seconds and nanoseconds", time.Unix(12, 34), "12000000034"},
		{"before the epoch", time.Unix(-12, 34), "-11999999966"},
		{"whole seconds before the epoch", time.Unix(-12, 0), "-12000000000"},
		{"largest UnixNano", time.Unix(0, math.MaxInt64), strconv.FormatInt(math.MaxInt64, 10)},
		{"smallest UnixNano", time.Unix(0, math.MinInt64), strconv.FormatInt(math.MinInt64, 10)},
		{"past UnixNano", time.Unix(0, math.MaxInt64).Add(1), "9223372036854775808"},
		{"before UnixNano", time.Unix(0, math.MinInt64).Add(-1), "-9223372036854775809"},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), "253402300799999000000"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), "-62135596799999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendNanos(nil, tt.t))
			if got != tt.want {
				t.Errorf("appendNanos = %s, want %s", got, tt.want)
			}
			if len(got) > maxNanosLen {
				t.Errorf("appendNanos wrote %d bytes, more than maxNanosLen %d", len(got), maxNanosLen)
			}
		})
	}
}
