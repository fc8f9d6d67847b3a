package domain

import "unicode/utf8"

// MaxNameLength is the longest username or service name, in characters:
// Gafaelfawr's stores hold at most 64 (VARCHAR(64) in its older schemas).
const MaxNameLength = 64

// validName reports whether s fits the stores: at most MaxNameLength
// characters of valid UTF-8, none of them control characters (PostgreSQL
// refuses NUL in text).
func validName(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLength {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
