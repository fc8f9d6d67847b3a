package domain

import (
	"strconv"
	"time"
)

// maxNanosLen is the most that appendNanos writes: a sign, the 20 digits
// of an int64's Unix seconds and 9 of nanoseconds.
const maxNanosLen = 1 + 20 + 9

// appendNanos appends t as nanoseconds since the Unix epoch, in decimal.
// Between the years 1678 and 2262 that is t.UnixNano(); outside, where
// UnixNano overflows and distinct instants could share it, the digits
// simply go on, so no two instants are written alike.
func appendNanos(dst []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec >= 0 {
		return appendSecondsNanos(dst, uint64(sec), nsec)
	}
	// t is -(mag seconds + rest nanoseconds). uint64(-sec) is right even
	// for the smallest int64, whose negation wraps to itself.
	mag, rest := uint64(-sec), int64(0)
	if nsec > 0 {
		mag, rest = mag-1, int64(time.Second)-nsec
	}
	return appendSecondsNanos(append(dst, '-'), mag, rest)
}

// appendSecondsNanos appends sec seconds and nsec (< 1e9) nanoseconds as
// a number of nanoseconds, without leading zeros.
func appendSecondsNanos(dst []byte, sec uint64, nsec int64) []byte {
	if sec == 0 {
		return strconv.AppendInt(dst, nsec, 10)
	}
	dst = strconv.AppendUint(dst, sec, 10)
	var digits [9]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	return append(dst, digits[:]...)
}
