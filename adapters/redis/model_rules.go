package redis

import (
	"time"
	"unicode/utf8"
)

// The rules of Gafaelfawr's TokenData model (models/token.py,
// models/userinfo.py and types.py) that matter here. Gafaelfawr answers
// "no such token" for data its model refuses, so reading refuses it too,
// and storing refuses what reading would.
//
// Reading is stricter than Pydantic's lax mode only for forms no
// Gafaelfawr release writes: integers as strings, fractions with a zero
// part or booleans; times as strings or fractions; integers beyond int64;
// scopes other than a list of strings or a string; and a missing or empty
// token secret, which no presented token can match.

// maxNameLength is the most characters Gafaelfawr's TokenData allows in
// username and service.
const maxNameLength = 64

// tooLong reports whether s has more than maxNameLength characters, counted
// as Python counts them: code points. No string of at most that many bytes
// has more, so the usual short name is not counted.
func tooLong(s string) bool {
	return len(s) > maxNameLength && utf8.RuneCountInString(s) > maxNameLength
}

// validGroupName reports whether s matches Gafaelfawr's GROUPNAME_REGEX,
// ^([a-zA-Z]|[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z])[a-zA-Z0-9._-]*$: ASCII
// letters, digits, '.', '_' and '-', starting with a letter or a digit and
// holding at least one letter. Pydantic's regular expressions are Rust's,
// whose $ matches only at the very end, so a trailing newline is refused.
func validGroupName(s string) bool {
	if s == "" || !isASCIIAlnum(s[0]) {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIILetter(c):
			letter = true
		case '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return letter
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }

// Pydantic reads an integer datetime as seconds since the epoch when it
// lies within ±2e10 (the years 1336 to 2603), and as milliseconds beyond,
// where it must fall within the years 1 to 9999.
const (
	maxTimestampSeconds = 20_000_000_000
	minTimestampMillis  = -62_135_596_800_000 // 0001-01-01T00:00:00Z
	maxTimestampMillis  = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z
)

// timestamp is the time n means in a created or expires field, as Pydantic
// reads it, and false if Pydantic refuses it.
func timestamp(n int64) (time.Time, bool) {
	switch {
	case -maxTimestampSeconds <= n && n <= maxTimestampSeconds:
		return time.Unix(n, 0).UTC(), true
	case minTimestampMillis <= n && n <= maxTimestampMillis:
		return time.UnixMilli(n).UTC(), true
	}
	return time.Time{}, false
}

// storableTimestamp reports whether t, written as whole seconds, reads back
// as seconds and not as milliseconds.
func storableTimestamp(t time.Time) bool {
	n := t.Unix()
	return -maxTimestampSeconds <= n && n <= maxTimestampSeconds
}
