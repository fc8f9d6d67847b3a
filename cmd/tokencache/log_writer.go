package main

import (
	"io"
	"sync"
	"time"
)

// maxPendingLog is how much log output may wait in memory for the writer
// before loggers wait too.
const maxPendingLog = 1 << 20

// logLinger is how long the writer, once woken, waits for more lines
// before it writes. Under load, a request is logged every few
// microseconds; without the wait, the writer woke for nearly every line
// and wrote it alone, a system call each (docs/performance.md).
const logLinger = time.Millisecond

// logWriter writes the log to w from a goroutine of its own, so that a
// request's logger only appends its line to a queue: under load, the lines
// of many requests go out in one write instead of a system call each.
// Lines are never split or interleaved, and go out in the order they were
// queued, within logLinger and one write of being queued: the writer
// lingers that long after a line wakes it, so that one write carries every
// line queued meanwhile. When w is slow, at most
// maxPendingLog bytes wait: past that, loggers wait for w as they would
// without logWriter. Close writes what is queued and stops the goroutine;
// the process must call it before it exits.
type logWriter struct {
	w       io.Writer
	mu      sync.Mutex
	room    sync.Cond // signalled when the writer takes the queue
	pending []byte    // queued, not yet taken by the writer
	closed  bool
	err     error         // the first failed write, returned by Close
	wake    chan struct{} // one value: there is something to write
	closing chan struct{} // closed by Close: the writer lingers no more
	done    chan struct{} // closed when the writer has stopped
	linger  time.Duration // logLinger; tests set another before the first Write
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{
		w: w, wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
		linger: logLinger,
	}
	l.room.L = &l.mu
	go l.run()
	return l
}

// Write queues p for the writer. After Close, it writes p itself, once
// the writer has written what was queued before.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) >= maxPendingLog && !l.closed {
		l.room.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return l.w.Write(p)
	}
	l.pending = append(l.pending, p...)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer is already due to look
	}
	return len(p), nil
}

// Close waits until everything queued is written, stops the writer and
// returns the first error a write met.
func (l *logWriter) Close() error {
	l.mu.Lock()
	if !l.closed {
		close(l.closing)
	}
	l.closed = true
	l.room.Broadcast()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	return l.err
}

// run writes the queue whenever it is woken, logLinger later, until
// Close.
func (l *logWriter) run() {
	defer close(l.done)
	var spare []byte
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for range l.wake {
		linger.Reset(l.linger)
		select {
		case <-linger.C:
		case <-l.closing:
			linger.Stop()
		}
		l.mu.Lock()
		out := l.pending
		l.pending = spare[:0]
		closed := l.closed
		l.room.Broadcast()
		l.mu.Unlock()
		if len(out) > 0 {
			if _, err := l.w.Write(out); err != nil && l.err == nil {
				l.err = err
			}
		}
		// The batch's memory becomes the next queue unless it grew too
		// large to keep; then the next queue starts afresh, never over
		// memory the queue still uses.
		spare = nil
		if cap(out) <= maxPendingLog {
			spare = out
		}
		if closed {
			return
		}
	}
}
