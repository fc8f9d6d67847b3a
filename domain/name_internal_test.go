package domain

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestValidNameASCIIAgreesWithUnicode checks validName's shortcut for
// printable ASCII against the full Unicode rule it stands in for.
func TestValidNameASCIIAgreesWithUnicode(t *testing.T) {
	slow := func(s string) bool { return VisibleName(s) && utf8.RuneCountInString(s) <= MaxNameLength }
	check := func(s string) {
		t.Helper()
		if got, want := validName(s), slow(s); got != want {
			t.Errorf("validName(%+q) = %v, want %v", s, got, want)
		}
	}
	var all []string
	for c := 0; c < 0x80; c++ {
		all = append(all, string(rune(c)))
	}
	for _, a := range all {
		check(a)
		for _, b := range []string{"", " ", "a", "~", "\x7f", "\x1f", "é"} {
			check(a + b)
			check(b + a)
			check(b + a + b)
		}
	}
	for _, n := range []int{MaxNameLength - 1, MaxNameLength, MaxNameLength + 1} {
		check(strings.Repeat("a", n))
		check(strings.Repeat("a", n-1) + " ")
		check(strings.Repeat("é", n))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		b := make([]byte, rng.IntN(MaxNameLength+4))
		for i := range b {
			b[i] = byte(rng.IntN(0x80))
		}
		check(string(b))
	}
}
