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
	closed  bool                       // no more work starts
}

func newWorkGroup() *workGroup {
	return &workGroup{running: make(map[chan struct{}]struct{})}
}

// start records work that is about to start and returns the function that
// records its end; call it exactly once. Once the group is closed it
// records nothing and reports false: the work must not start.
func (g *workGroup) start() (finished func(), ok bool) {
	ch := make(chan struct{})
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, false
	}
	g.running[ch] = struct{}{}
	return func() {
		g.mu.Lock()
		delete(g.running, ch)
		g.mu.Unlock()
		close(ch)
	}, true
}

// close stops new work from starting and waits until all the work that
// had started has ended: none can start meanwhile, so none is missed.
func (g *workGroup) close() {
	g.mu.Lock()
	g.closed = true
	running := make([]chan struct{}, 0, len(g.running))
	for ch := range g.running {
		running = append(running, ch)
	}
	g.mu.Unlock()
	for _, ch := range running {
		<-ch
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
