package memory

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestTokenStoreDropsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	clock := NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	store := NewTokenStore(clock)
	put := func(n int) {
		t.Helper()
		for range n {
			tok, err := domain.NewToken(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			data := domain.TokenData{Token: tok, Username: "u", Type: domain.TokenTypeSession,
				Created: clock.Now(), Expires: clock.Now().Add(time.Minute)}
			if err := store.Store(ctx, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Ten generations of tokens, each expired before the next is stored:
	// the map must not keep them all.
	for range 10 {
		put(minSweep)
		clock.Advance(2 * time.Minute)
	}
	store.mu.RLock()
	held := len(store.entries)
	store.mu.RUnlock()
	if held > 2*minSweep {
		t.Fatalf("store holds %d entries, of which none is live; want at most %d", held, 2*minSweep)
	}
}
