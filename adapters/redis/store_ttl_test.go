package redis_test

import (
	"context"
	"testing"
	"time"
)

// Gafaelfawr's TokenRedisStore.store_data sets the TTL to the whole
// seconds from the current second, rounded down, to the expiry: a child
// made half a second into second T with expires = T + lifetime is written
// with EX lifetime. The store writes the same TTL.
func TestStoreTTLIsGafaelfawrs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	second := e.clock.Now() // a whole second
	for _, tc := range []struct {
		name string
		left time.Duration // from second to the expiry
	}{
		{"one hour", time.Hour},
		// One second by Gafaelfawr's reckoning: it writes EX 1.
		{"one second", time.Second},
	} {
		data := e.fullData(t)
		data.Created = second
		data.Expires = second.Add(tc.left)
		e.clock.Set(second.Add(500 * time.Millisecond)) // as almost every creation is
		if err := e.store.Store(ctx, data); err != nil {
			t.Fatalf("%s: Store = %v; Gafaelfawr writes EX %d", tc.name, err, int(tc.left.Seconds()))
		}
		ms, err := e.raw.Do(ctx, "PTTL", "token:"+data.Token.Key).Int64()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		if got := time.Duration(ms) * time.Millisecond; got <= tc.left-time.Second || got > tc.left {
			t.Errorf("%s: PTTL = %v; Gafaelfawr writes EX %d, so want in (%v, %v]",
				tc.name, got, int(tc.left.Seconds()), tc.left-time.Second, tc.left)
		}
	}
}
