package app

import (
	"context"
	"fmt"
	"sync"
)

// workGroup keeps track of the work running detached from its callers
// (see runLocked), so that DrainCleanups and Close can wait for it. It is
// safe for concurrent use.
type workGroup struct {
	mu      sync.Mutex
	running map[chan struct{}]struct{} // each closed when its work ends
}

func newWorkGroup() *workGroup {
	return &workGroup{running: make(map[chan struct{}]struct{})}
}

// start records work that is about to start and returns the function that
// records its end; call it exactly once.
func (g *workGroup) start() (finished func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.running[ch] = struct{}{}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.running, ch)
		g.mu.Unlock()
		close(ch)
	}
}

// wait waits until the work running when it is called has ended, or ctx
// ends, when it returns an error saying how much is still running. Work
// started meanwhile is not waited for, so that a steady stream of requests
// cannot keep it waiting.
func (g *workGroup) wait(ctx context.Context) error {
	g.mu.Lock()
	running := make([]chan struct{}, 0, len(g.running))
	for ch := range g.running {
		running = append(running, ch)
	}
	g.mu.Unlock()
	for i, ch := range running {
		select {
		case <-ch:
		case <-ctx.Done():
			left := 0
			for _, ch := range running[i:] {
				select {
				case <-ch:
				default:
					left++
				}
			}
			return fmt.Errorf("the store work of %d requests is still running: %w", left, ctx.Err())
		}
	}
	return nil
}
