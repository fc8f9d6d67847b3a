package memory

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Readers share the cache: a Get, hit or miss, goes on while another
// reads; a hit made then leaves its entry's place unchanged.
func TestChildCacheReadersShareIt(t *testing.T) {
	cache, err := NewChildCache(2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := domain.NewToken(rand.Reader)
	b, _ := domain.NewToken(rand.Reader)
	cache.Put("a", a)
	cache.Put("b", b)

	cache.mu.RLock() // another reader, in the middle of its Get
	done := make(chan bool, 2)
	go func() {
		got, ok := cache.Get("a")
		done <- ok && got == a
	}()
	go func() {
		_, ok := cache.Get("missing")
		done <- !ok
	}()
	for range 2 {
		select {
		case ok := <-done:
			if !ok {
				t.Fatal("a Get beside another reader returned the wrong answer")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a Get waited for another reader")
		}
	}
	cache.mu.RUnlock()

	c, _ := domain.NewToken(rand.Reader)
	cache.Put("c", c) // a stayed the least recently used, and goes
	if _, ok := cache.Get("a"); ok {
		t.Fatal("a, hit beside another reader, was marked recently used")
	}
	if got, ok := cache.Get("b"); !ok || got != b {
		t.Fatal("b was evicted instead of a")
	}
}
