package redis

import (
	"container/list"
	"time"
	"unsafe"

	"github.com/tokencache/tokencache/domain"
)

// entryOverhead is what an entry costs beyond its strings and its slices'
// arrays, roughly: the token data's string headers and times, the map and
// list nodes.
const entryOverhead = 256

// entrySize bounds what data, decoded from jsonLen bytes of JSON, takes
// when kept. Each of its strings is an allocation of its own (the decoder
// copies every string it keeps), as are the arrays of the cache's copy of
// its scopes and groups, and Go rounds each allocation up (allocBound).
// The strings' characters are within the JSON's length, an escape being
// no shorter than what it stands for, so n + n/4 + 16 for each adds up to
// at most the JSON's length and a quarter, plus 16 bytes a string: one a
// scope (or fewer, the scopes of a comma-separated string sharing it), one
// a group, and seven more for the key, the secret, the username, the type,
// the service, the name and the email. The entry's own copy of the key is
// not in the JSON: it is counted apart.
func entrySize(jsonLen int, data *domain.TokenData) int64 {
	strs := int64(7 + len(data.Scopes) + len(data.Groups))
	n := int64(jsonLen)
	size := entryOverhead + n + n/4 + 16*strs + allocBound(int64(len(data.Token.Key)))
	if len(data.Scopes) > 0 {
		size += allocBound(int64(len(data.Scopes))*int64(unsafe.Sizeof("")) + mallocHeader)
	}
	if len(data.Groups) > 0 {
		size += allocBound(int64(len(data.Groups))*int64(unsafe.Sizeof(domain.Group{})) + mallocHeader)
	}
	return size
}

// mallocHeader is what Go adds to an allocation of more than 512 bytes
// that holds pointers, such as an array of strings.
const mallocHeader = 8

// allocBound bounds the heap an allocation of n bytes takes. Go rounds it
// up to its size class, at most a quarter more and 16 bytes (9 bytes take
// 16, 33 take 48, 769 take 896: runtime/sizeclasses.go), or, past 32 KiB,
// to whole 8 KiB pages, at most a quarter more too; a string of under 16
// bytes shares a 16-byte block, which it may keep alone.
// TestAllocBoundCoversGoSizeClasses checks it against the runtime.
func allocBound(n int64) int64 {
	return n + n/4 + 16
}

// entry is one token's decoded data, kept until until (zero: no limit but
// invalidation).
type entry struct {
	data  domain.TokenData
	until time.Time
	size  int64
}

// goodAt reports whether e may still be served at now.
func (e entry) goodAt(now time.Time) bool {
	return e.until.IsZero() || now.Before(e.until)
}

// lru holds entries by token key, evicting the least recently used beyond
// maxEntries or maxBytes. It is not safe for concurrent use.
type lru struct {
	maxEntries int
	maxBytes   int64
	size       int64
	order      list.List // of *lruItem, most recently used first
	items      map[string]*list.Element
}

type lruItem struct {
	key string
	entry
}

func newLRU(maxEntries int, maxBytes int64) *lru {
	return &lru{maxEntries: maxEntries, maxBytes: maxBytes, items: make(map[string]*list.Element)}
}

func (l *lru) len() int { return len(l.items) }

// get returns key's entry and marks it most recently used.
func (l *lru) get(key string) (entry, bool) {
	el, ok := l.items[key]
	if !ok {
		return entry{}, false
	}
	l.order.MoveToFront(el)
	return el.Value.(*lruItem).entry, true
}

// add keeps e under key, replacing any entry there, then evicts the least
// recently used until both bounds hold. An entry larger than maxBytes is
// not kept.
func (l *lru) add(key string, e entry) {
	l.remove(key)
	if e.size > l.maxBytes {
		return
	}
	l.items[key] = l.order.PushFront(&lruItem{key: key, entry: e})
	l.size += e.size
	for len(l.items) > l.maxEntries || l.size > l.maxBytes {
		l.remove(l.order.Back().Value.(*lruItem).key)
	}
}

// remove drops key's entry, if any.
func (l *lru) remove(key string) {
	el, ok := l.items[key]
	if !ok {
		return
	}
	l.order.Remove(el)
	delete(l.items, key)
	l.size -= el.Value.(*lruItem).size
}

// clear drops every entry.
func (l *lru) clear() {
	l.order.Init()
	clear(l.items)
	l.size = 0
}
