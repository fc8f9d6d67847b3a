package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest username or service name, in characters:
// Gafaelfawr's stores hold at most 64 (VARCHAR(64) in its older schemas).
const MaxNameLength = 64

// validName reports whether s fits the stores and can be read for what it
// is: at most MaxNameLength characters, and visible (see VisibleName).
func validName(s string) bool {
	if len(s) <= MaxNameLength && printableASCII(s) {
		return s == "" || s[0] != ' ' && s[len(s)-1] != ' '
	}
	return VisibleName(s) && utf8.RuneCountInString(s) <= MaxNameLength
}

// printableASCII reports whether s holds only the characters from a space
// to a tilde: every name Gafaelfawr makes, checked on every request without
// Unicode's tables.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// VisibleName reports whether a username or service name can be read for
// what it is: valid UTF-8 of graphic characters only, whose only space is
// the plain space (U+0020), and not at either end. It refuses control
// characters (C0, DEL and C1, such as NEL), format characters (such as a
// right-to-left override, a zero-width space or a byte-order mark), line
// and paragraph separators, every other space (such as a no-break space),
// private-use and unassigned code points, and the graphic characters that
// Unicode says to show as nothing (a combining grapheme joiner, a Hangul
// filler, a variation selector). Two names that look alike must not name
// different children in the stores, nor a log line say something other
// than what it holds. The empty name holds nothing hidden, so it is
// visible; where a name is needed, its caller refuses it.
//
// Every username Gafaelfawr makes
// (^[a-z0-9](?:[a-z0-9]|-[a-z0-9])*[a-z](?:[a-z0-9]|-[a-z0-9])*$) is
// visible.
func VisibleName(s string) bool {
	if !utf8.ValidString(s) || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	for _, r := range s {
		if r == ' ' {
			continue
		}
		// Unicode's Default_Ignorable_Code_Point is, roughly, the format
		// characters, which IsGraphic refuses, and these two properties.
		if !unicode.IsGraphic(r) || unicode.In(r, unicode.Zs,
			unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) {
			return false
		}
	}
	return true
}
