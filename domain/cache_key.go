package domain

import "strings"

// CacheKey identifies one cached child: the parent's key and expiry, plus,
// for internal tokens, the service and canonical scopes. A parent whose
// expiry changes yields a different key. The same key also names the
// cross-process lock that guards creating that child.
type CacheKey string

// NotebookCacheKey is the key of parent's notebook child.
func NotebookCacheKey(parent TokenData) CacheKey {
	var b strings.Builder
	b.Grow(parentKeyLen)
	writeParent(&b, "notebook", parent)
	return CacheKey(b.String())
}

// InternalCacheKey is the key of parent's internal child for service with
// the given canonical scopes.
func InternalCacheKey(parent TokenData, service string, scopes []string) CacheKey {
	// Built on every request, cache hits included: one allocation.
	n := parentKeyLen + len(scopes) + 1 + len(service)
	for _, s := range scopes {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	writeParent(&b, "internal", parent)
	for i, s := range scopes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	// The service goes last: it is the only part that may hold any byte,
	// so putting it last keeps distinct inputs from colliding.
	b.WriteByte(0)
	b.WriteString(service)
	return CacheKey(b.String())
}

// parentKeyLen is the most that writeParent writes: an 8-byte kind, a
// token key, an expiry in nanoseconds and three separators.
const parentKeyLen = 8 + partLength + maxNanosLen + 3

func writeParent(b *strings.Builder, kind string, parent TokenData) {
	b.WriteString(kind)
	b.WriteByte(0)
	b.WriteString(parent.Token.Key)
	b.WriteByte(0)
	if !parent.Expires.IsZero() {
		var digits [maxNanosLen]byte
		b.Write(appendNanos(digits[:0], parent.Expires))
	}
	b.WriteByte(0)
}
