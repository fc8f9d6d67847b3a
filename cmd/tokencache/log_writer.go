package main

import (
	"io"
	"sync"
)

// maxPendingLog is how much log output may wait in memory for the writer
// before loggers wait too.
const maxPendingLog = 1 << 20

// logWriter writes the log to w from a goroutine of its own, so that a
// request's logger only appends its line to a queue: under load, the lines
// of many requests go out in one write instead of a system call each.
// Lines are never split or interleaved, and go out in the order they were
// queued, within one write of being queued. When w is slow, at most
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
	done    chan struct{} // closed when the writer has stopped
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.room.L = &l.mu
	go l.run()
	return l
}

// Write queues p for the writer. After Close, it writes p itself.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) >= maxPendingLog && !l.closed {
		l.room.Wait()
	}
	if l.closed {
		l.mu.Unlock()
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

// run writes the queue whenever it is woken, until Close.
func (l *logWriter) run() {
	defer close(l.done)
	var spare []byte
	for range l.wake {
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
		if cap(out) <= maxPendingLog {
			spare = out
		}
		if closed {
			return
		}
	}
}
