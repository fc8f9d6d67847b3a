package redis

import (
	"container/list"
	"time"
	"unsafe"

	"github.com/tokencache/tokencache/domain"
)

// entryOverhead is what an entry costs beyond its JSON's length and its
// slices' elements, roughly: the string headers of the token data, the map
// and list nodes.
const entryOverhead = 256

// entrySize estimates what data, decoded from jsonLen bytes of JSON,
// takes when kept: its strings' characters are within the JSON's length,
// but each scope's string header and each group are not, and a token of
// thousands of short scopes holds several times its JSON in them.
func entrySize(jsonLen int, data *domain.TokenData) int64 {
	return int64(jsonLen) + entryOverhead +
		int64(len(data.Scopes))*int64(unsafe.Sizeof("")) +
		int64(len(data.Groups))*int64(unsafe.Sizeof(domain.Group{}))
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
