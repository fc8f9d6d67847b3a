package memory

import (
	"sync"
	"time"

	"github.com/tokencache/tokencache/ports"
)

// SystemClock reads the real time.
type SystemClock struct{}

var _ ports.Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that moves only when told to, for tests.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ ports.Clock = (*ManualClock)(nil)

// NewManualClock returns a clock stopped at now.
func NewManualClock(now time.Time) *ManualClock {
	return &ManualClock{now: now}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to now.
func (c *ManualClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
