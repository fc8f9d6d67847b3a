package redis

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fastReader reads the subset of JSON that loadFast handles. Each method
// reports false on anything outside that subset, valid JSON or not, and
// the reader is then abandoned: its position means nothing after a false.
type fastReader struct {
	s string // the whole document
	i int    // the next byte to read
}

// maxSkipDepth bounds the nesting of unknown values that skip follows;
// deeper ones are left to encoding/json.
const maxSkipDepth = 16

// space skips JSON's insignificant whitespace, which is these four bytes
// and no other.
func (r *fastReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (r *fastReader) peek() byte {
	r.space()
	if r.i == len(r.s) {
		return 0
	}
	return r.s[r.i]
}

// consume reads c if it is the next byte after whitespace.
func (r *fastReader) consume(c byte) bool {
	if r.peek() != c {
		return false
	}
	r.i++
	return true
}

// literal reads word (null, true or false) if it comes next. A letter
// run on after it (nullx) is left unread, for the caller's next read of a
// delimiter to refuse.
func (r *fastReader) literal(word string) bool {
	r.space()
	if !strings.HasPrefix(r.s[r.i:], word) {
		return false
	}
	r.i += len(word)
	return true
}

// end reports whether nothing but whitespace is left.
func (r *fastReader) end() bool {
	r.space()
	return r.i == len(r.s)
}

// str reads a string and returns it as a substring of the document. It
// refuses every escape, so what it returns is the string's bytes as they
// stand; and it refuses invalid UTF-8, which encoding/json would replace
// with U+FFFD.
func (r *fastReader) str() (string, bool) {
	if !r.consume('"') {
		return "", false
	}
	n := strings.IndexByte(r.s[r.i:], '"')
	if n < 0 {
		return "", false
	}
	s := r.s[r.i : r.i+n]
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] < 0x20 { // an escape, or a control byte JSON forbids
			return "", false
		}
	}
	if !utf8.ValidString(s) {
		return "", false
	}
	r.i += n + 1
	return s, true
}

// integer reads an integer that fits in an int64, in JSON's syntax for
// one: no fraction, no exponent, no leading zero, no plus sign.
func (r *fastReader) integer() (int64, bool) {
	r.space()
	start, i := r.i, r.i
	if i < len(r.s) && r.s[i] == '-' {
		i++
	}
	digits := i
	for i < len(r.s) && '0' <= r.s[i] && r.s[i] <= '9' {
		i++
	}
	if i == digits || r.s[digits] == '0' && i > digits+1 {
		return 0, false
	}
	n, err := strconv.ParseInt(r.s[start:i], 10, 64)
	if err != nil { // out of range
		return 0, false
	}
	r.i = i
	return n, true
}

// members reads an object, calling member with each key after reading the
// colon that follows it; member must read the key's value.
func (r *fastReader) members(member func(key string) bool) bool {
	if !r.consume('{') {
		return false
	}
	if r.consume('}') {
		return true
	}
	for {
		key, ok := r.str()
		if !ok || !r.consume(':') || !member(key) {
			return false
		}
		if r.consume('}') {
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

// elements reads a list, calling element to read each of its values.
func (r *fastReader) elements(element func() bool) bool {
	if !r.consume('[') {
		return false
	}
	if r.consume(']') {
		return true
	}
	for {
		if !element() {
			return false
		}
		if r.consume(']') {
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

// object reads an object decoded into a struct whose JSON names are keys:
// read reads the value of each of them, and unknown keys' values are
// skipped, as encoding/json ignores them.
func (r *fastReader) object(keys []string, read func(key string) bool) bool {
	var seen uint64 // bit i: keys[i] has been read
	return r.members(func(key string) bool {
		i := slices.Index(keys, key)
		switch {
		case i >= 0 && seen&(1<<i) == 0:
			seen |= 1 << i
			return read(key)
		case i >= 0:
			// encoding/json decodes a repeated key over the earlier
			// value, merging objects: not worth copying for data
			// nobody writes.
			return false
		case mayMatchField(key, keys):
			return false
		}
		return r.skip(0)
	})
}

// skip reads a value of an unknown field, which only has to be valid.
func (r *fastReader) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch r.peek() {
	case '"':
		_, ok := r.str()
		return ok
	case '{':
		return r.members(func(string) bool { return r.skip(depth + 1) })
	case '[':
		return r.elements(func() bool { return r.skip(depth + 1) })
	case 'n':
		return r.literal("null")
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	}
	return r.number()
}

// number reads a number of any size and precision, in JSON's syntax: an
// unknown field's number only has to be valid, as it is for encoding/json.
// Gafaelfawr 9.1 to 10.x wrote quotas with fractions ("cpu": 4.0) in token
// data that may still be read on every request.
func (r *fastReader) number() bool {
	r.space()
	i := r.i
	if i < len(r.s) && r.s[i] == '-' {
		i++
	}
	switch {
	case i < len(r.s) && r.s[i] == '0':
		i++
	case i < len(r.s) && '1' <= r.s[i] && r.s[i] <= '9':
		i = r.digits(i)
	default:
		return false
	}
	if i < len(r.s) && r.s[i] == '.' {
		if i = r.digits(i + 1); r.s[i-1] == '.' {
			return false
		}
	}
	if i < len(r.s) && (r.s[i] == 'e' || r.s[i] == 'E') {
		i++
		if i < len(r.s) && (r.s[i] == '+' || r.s[i] == '-') {
			i++
		}
		start := i
		if i = r.digits(i); i == start {
			return false
		}
	}
	r.i = i
	return true
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func (r *fastReader) digits(i int) int {
	for i < len(r.s) && '0' <= r.s[i] && r.s[i] <= '9' {
		i++
	}
	return i
}

// mayMatchField reports whether encoding/json might decode key into one of
// the fields named keys although it is none of them: it also matches keys
// case-insensitively, with Unicode folding (the Kelvin sign K matches k,
// the long s ſ matches s), so any non-ASCII key counts.
func mayMatchField(key string, keys []string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, k := range keys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}
