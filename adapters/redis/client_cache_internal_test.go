package redis

import (
	"log/slog"
	"testing"
	"time"
	"unsafe"

	"github.com/tokencache/tokencache/domain"
)

// The fill protocol, without Redis: a value read from Redis is kept only if
// the link was up throughout the read and nothing invalidated its key
// meanwhile.
func TestClientCacheFill(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	data := domain.TokenData{Token: domain.Token{Key: "k"}, Username: "u", Scopes: []string{"read:all"}}
	for _, tc := range []struct {
		name   string
		during func(c *ClientCache) // between beginFill and endFill
		before func(c *ClientCache) // before beginFill
		kept   bool
	}{
		{name: "undisturbed", kept: true},
		{name: "other key invalidated", during: func(c *ClientCache) { c.invalidate("other") }, kept: true},
		{name: "key invalidated", during: func(c *ClientCache) { c.invalidate("k") }},
		{name: "link broke and came back", during: func(c *ClientCache) { c.setLinked(false); c.setLinked(true) }},
		{name: "link down", during: func(c *ClientCache) { c.setLinked(false) }},
		{name: "link down throughout", before: func(c *ClientCache) { c.setLinked(false) }},
		{name: "link came up during the read", before: func(c *ClientCache) { c.setLinked(false) },
			during: func(c *ClientCache) { c.setLinked(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClientCache(ClientCacheConfig{MaxEntries: 10, MaxBytes: 1 << 20}, slog.New(slog.DiscardHandler))
			c.setLinked(true)
			if tc.before != nil {
				tc.before(c)
			}
			ticket := c.beginFill("k")
			if tc.during != nil {
				tc.during(c)
			}
			c.endFill(ticket, true, data, time.Time{}, 100)
			if _, kept := c.get("k", now); kept != tc.kept {
				t.Errorf("kept = %v, want %v", kept, tc.kept)
			}
			if n := len(c.pending); n != 0 {
				t.Errorf("%d keys left pending", n)
			}
		})
	}
}

// Two reads of one key at once: an invalidation spoils both, and the key
// leaves the pending table once both end.
func TestClientCacheConcurrentFills(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	data := domain.TokenData{Token: domain.Token{Key: "k"}, Username: "u"}
	c := newClientCache(ClientCacheConfig{MaxEntries: 10, MaxBytes: 1 << 20}, slog.New(slog.DiscardHandler))
	c.setLinked(true)
	first := c.beginFill("k")
	second := c.beginFill("k")
	c.invalidate("k")
	c.endFill(first, true, data, time.Time{}, 100)
	if len(c.pending) != 1 {
		t.Fatalf("the key left the pending table while a read was still under way")
	}
	c.endFill(second, true, data, time.Time{}, 100)
	if _, kept := c.get("k", now); kept {
		t.Error("a read spoiled by an invalidation was kept")
	}
	if len(c.pending) != 0 {
		t.Error("the key is still pending after both reads ended")
	}
	third := c.beginFill("k") // begun after the invalidation: good
	c.endFill(third, true, data, time.Time{}, 100)
	if _, kept := c.get("k", now); !kept {
		t.Error("a read begun after the invalidation was not kept")
	}
}

// The LRU keeps its size right across replacement and eviction.
func TestLRUAccounting(t *testing.T) {
	t.Parallel()
	l := newLRU(3, 1000)
	l.add("a", entry{size: 100})
	l.add("a", entry{size: 300}) // replaces
	l.add("b", entry{size: 400})
	if l.len() != 2 || l.size != 700 {
		t.Fatalf("len %d size %d, want 2 and 700", l.len(), l.size)
	}
	l.get("a")
	l.add("c", entry{size: 400}) // 1100 > 1000: evicts b, the least recently used
	if _, ok := l.get("b"); ok || l.size != 700 {
		t.Fatalf("b kept or size %d, want b evicted and 700", l.size)
	}
	l.add("d", entry{size: 1001}) // larger than the bound: not kept
	if _, ok := l.get("d"); ok || l.size != 700 {
		t.Fatalf("an entry over the bound was kept (size %d)", l.size)
	}
	l.remove("a")
	l.clear()
	if l.len() != 0 || l.size != 0 {
		t.Fatalf("len %d size %d after clear", l.len(), l.size)
	}
}

// allocBound is at least what Go allocates for n bytes, at every size
// class and past them, in whole pages: growing a slice from nothing takes
// the size class (or pages) of its length, which its capacity tells. A
// string takes what its bytes would; an array of strings may take a malloc
// header more, which entrySize adds to n.
func TestAllocBoundCoversGoSizeClasses(t *testing.T) {
	t.Parallel()
	classes := 0
	for n := 1; n <= 256<<10; {
		class := cap(append([]byte(nil), make([]byte, n)...))
		took := max(class, 16) // a small string's block, which it may keep alone
		if b := allocBound(int64(n)); b < int64(took) {
			t.Errorf("allocBound(%d) = %d, but Go takes %d", n, b, took)
		}
		n, classes = class+1, classes+1 // the next size's smallest request, the worst case
	}
	for n := 1; n <= 16<<10; {
		took := cap(append([]string(nil), make([]string, n)...)) * int(unsafe.Sizeof(""))
		if b := allocBound(int64(n)*int64(unsafe.Sizeof("")) + mallocHeader); b < int64(took+mallocHeader) {
			t.Errorf("allocBound for %d strings = %d, but Go takes %d", n, b, took+mallocHeader)
		}
		n = took/int(unsafe.Sizeof("")) + 1
	}
	if classes < 50 { // Go 1.26 has 67 size classes; then pages from 40 to 256 KiB
		t.Errorf("only %d sizes tried", classes)
	}
}

// A link whose last answered ping went out more than linkFresh ago may be
// holding back invalidations: nothing is served until it catches up, and
// then what it kept is served again.
func TestClientCacheServesOnlyWhileTheLinkKeepsUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	data := domain.TokenData{Token: domain.Token{Key: "k"}, Username: "u"}
	c := newClientCache(ClientCacheConfig{MaxEntries: 10, MaxBytes: 1 << 20}, slog.New(slog.DiscardHandler))
	c.setLinked(true)
	c.endFill(c.beginFill("k"), true, data, time.Time{}, 100)
	if _, ok := c.get("k", now); !ok {
		t.Fatal("not served with the link up to date")
	}
	c.upTo.Store(c.sinceBorn() - int64(linkFresh) - int64(time.Millisecond))
	if _, ok := c.get("k", now); ok {
		t.Error("served with the link more than linkFresh behind")
	}
	c.caughtUp(c.sinceBorn())
	if _, ok := c.get("k", now); !ok {
		t.Error("not served once the link caught up")
	}
	c.caughtUp(c.sinceBorn() - int64(time.Hour)) // an answer overtaken by a later one
	if _, ok := c.get("k", now); !ok {
		t.Error("an older answer set the link back")
	}
}

// A server is told by the run_id of its INFO server, whatever else the
// reply holds.
func TestRunID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, info, want string }{
		{"redis 7", "# Server\r\nredis_version:7.0.15\r\nprocess_id:12\r\nrun_id:8f1c0e2a9b3d4c5e6f708192a3b4c5d6e7f80912\r\ntcp_port:6379\r\n", "8f1c0e2a9b3d4c5e6f708192a3b4c5d6e7f80912"},
		{"last line", "# Server\r\nrun_id:abc", "abc"},
		{"none", "# Server\r\nredis_version:7.0.15\r\n", ""},
		{"not at a line's start", "# Server\r\nmaster_run_id:abc\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := runID(tc.info); got != tc.want {
				t.Errorf("runID = %q, want %q", got, tc.want)
			}
		})
	}
}
