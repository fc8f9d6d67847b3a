package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// parseQuery reads a raw query string as Gafaelfawr's ingress does:
// Starlette takes the query's bytes as latin-1 text and splits it with
// Python's urllib.parse.parse_qsl(keep_blank_values=True). So pairs are
// split at "&" only (a ";" is text), an empty pair is skipped, a pair
// without "=" is a name with an empty value, and in names and values "+"
// is a space and the rest is unquoted as unquote (pythonUnquote) does.
// Only a query of more than maxQueryPairs pairs is refused, as Go's own
// parser refuses it, where Starlette has no bound: a value Gafaelfawr
// cannot use, such as "7200%" for minimum_lifetime, is refused where it is
// read, and one it ignores, such as "comment=100%", is ignored here too.
func parseQuery(raw string) (url.Values, *problem) {
	q := url.Values{}
	pairs := 0
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		if pairs++; pairs > maxQueryPairs {
			return nil, &problem{
				status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter, kind: "invalid_parameter",
				msg: "Query string has too many parameters", loc: []string{"query"},
			}
		}
		name, value, _ := strings.Cut(pair, "=")
		name = pythonUnquote(strings.ReplaceAll(name, "+", " "))
		q[name] = append(q[name], pythonUnquote(strings.ReplaceAll(value, "+", " ")))
	}
	return q, nil
}

// maxQueryPairs bounds the memory a query's parameters take, as
// net/url's bound does (GODEBUG urlmaxqueryparams).
const maxQueryPairs = 10_000

// pythonUnquote is Python's urllib.parse.unquote of latin-1 text, given as
// the bytes it was read from: a byte beyond ASCII is the latin-1 character
// of that byte, and each run of ASCII is unquoted, "%" and two hex digits
// standing for that byte, any other "%" for itself, and the bytes read as
// UTF-8 with what is not UTF-8 replaced as Python's "replace" does
// (decodeReplacing). The result is UTF-8.
func pythonUnquote(s string) string {
	if !strings.Contains(s, "%") && isASCII(s) {
		return s // as it is, and without a copy on the hit path
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] >= utf8.RuneSelf {
			out = utf8.AppendRune(out, rune(s[i]))
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] < utf8.RuneSelf {
			j++
		}
		out = decodeReplacing(out, unquoteToBytes(s[i:j]))
		i = j
	}
	return string(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unquoteToBytes is Python's urllib.parse.unquote_to_bytes: "%" and two hex
// digits, in either case, is that byte; any other "%" is itself.
func unquoteToBytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decodeReplacing appends b to out as Python's bytes.decode("utf-8",
// "replace") reads it: each maximal part of an ill-formed sequence (the
// longest start of a well-formed one, or else one byte) becomes one
// U+FFFD, as Unicode recommends. Go's own decoders replace each byte, or
// each run of bytes, and would name another service.
func decodeReplacing(out, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			n = maximalSubpart(b)
		}
		out = utf8.AppendRune(out, r)
		b = b[n:]
	}
	return out
}

// maximalSubpart is the length of the longest start of a well-formed UTF-8
// sequence that b, ill-formed at its first byte, begins with; at least 1.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xbf) // the second byte's range
	var need int
	switch c := b[0]; {
	case 0xc2 <= c && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c == 0xed:
		need, hi = 2, 0x9f
	case 0xe1 <= c && c <= 0xef:
		need = 2
	case c == 0xf0:
		need, lo = 3, 0x90
	case c == 0xf4:
		need, hi = 3, 0x8f
	case 0xf1 <= c && c <= 0xf3:
		need = 3
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && lo <= b[n] && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xbf
	}
	return n
}
