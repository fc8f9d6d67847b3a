package domain

import (
	"slices"
	"strings"
)

// CanonicalScopes returns scopes sorted and without duplicates, in a new
// slice. A nil or empty input gives an empty, non-nil slice.
func CanonicalScopes(scopes []string) []string {
	out := make([]string, len(scopes))
	copy(out, scopes)
	slices.Sort(out)
	return slices.Compact(out)
}

// ValidScope reports whether s matches ^[a-zA-Z0-9:._-]+$.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == ':' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ScopesSubset reports whether every scope in sub is in super. Neither needs
// to be sorted.
func ScopesSubset(sub, super []string) bool {
	for _, s := range sub {
		if !slices.Contains(super, s) {
			return false
		}
	}
	return true
}

// JoinScopes is the stored form of scopes: canonical, comma-joined, "" when
// there are none.
func JoinScopes(scopes []string) string {
	return strings.Join(CanonicalScopes(scopes), ",")
}

// SplitScopes parses JoinScopes's form back into canonical scopes, as
// Gafaelfawr does: "" is no scopes, and otherwise every part is a scope,
// an empty one too (JoinScopes writes it back as it was).
func SplitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return CanonicalScopes(strings.Split(s, ","))
}
