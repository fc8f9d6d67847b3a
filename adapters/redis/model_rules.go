package redis

import (
	"time"

	"github.com/tokencache/tokencache/domain"
)

// The rules of Gafaelfawr's TokenData model (models/token.py,
// models/userinfo.py and types.py) that matter here. Gafaelfawr answers
// "no such token" for data its model refuses, so reading refuses it too,
// and storing refuses what reading would (domain.TokenData.CheckStorable).
//
// Reading is stricter than Pydantic's lax mode only for forms no
// Gafaelfawr release writes: integers as strings, fractions with a zero
// part or booleans; times as strings or fractions; integers beyond int64;
// scopes other than a list of strings or a string; and a missing or empty
// token secret, which no presented token can match.

// Pydantic reads an integer datetime as seconds since the epoch when it
// lies within ±2e10 (domain.MaxUnixSeconds), and as milliseconds beyond,
// where it must fall within the years 1 to 9999.
const (
	minTimestampMillis = -62_135_596_800_000 // 0001-01-01T00:00:00Z
	maxTimestampMillis = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z
)

// timestamp is the time n means in a created or expires field, as Pydantic
// reads it, and false if Pydantic refuses it.
func timestamp(n int64) (time.Time, bool) {
	switch {
	case -domain.MaxUnixSeconds <= n && n <= domain.MaxUnixSeconds:
		return time.Unix(n, 0).UTC(), true
	case minTimestampMillis <= n && n <= maxTimestampMillis:
		return time.UnixMilli(n).UTC(), true
	}
	return time.Time{}, false
}
