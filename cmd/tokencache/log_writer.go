package main

import (
	"io"
	"sync"
)

// maxPendingLog is how much log output may wait in memory for the write
// under way before loggers wait too.
const maxPendingLog = 1 << 20

// logWriter writes the log to w in as few writes as the load allows. A
// logger whose line comes while no write is under way writes it at once,
// and then whatever other loggers added meanwhile, in the order they
// added it; the others return as soon as their line is queued. Under load
// many request lines go out in one write instead of one write each; with
// one request at a time every line is written before its logger returns.
// Lines are never split or interleaved. When w is slow, at most
// maxPendingLog bytes wait: past that, loggers wait for w as they would
// without logWriter. Call Flush before the process exits.
type logWriter struct {
	w       io.Writer
	mu      sync.Mutex
	drained sync.Cond // signalled when a write ends
	pending []byte    // queued, not yet handed to w
	spare   []byte    // the buffer last handed to w, for reuse
	writing bool      // a logger is writing to w
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w}
	l.drained.L = &l.mu
	return l
}

// Write queues p and, if no write is under way, writes it and everything
// queued after it. It returns the error of the writes it made itself.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.writing && len(l.pending) >= maxPendingLog {
		l.drained.Wait()
	}
	l.pending = append(l.pending, p...)
	if l.writing {
		return len(p), nil
	}
	if err := l.drain(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush waits for the write under way, then writes what is still queued
// (left by a write that failed).
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.writing {
		l.drained.Wait()
	}
	return l.drain()
}

// drain writes the queue to w, and what is queued meanwhile, until it is
// empty or a write fails. It is called with mu held and no write under
// way, and unlocks mu while it writes.
func (l *logWriter) drain() error {
	l.writing = true
	defer func() {
		l.writing = false
		l.drained.Broadcast()
	}()
	for len(l.pending) > 0 {
		out := l.pending
		l.pending = l.spare[:0]
		l.mu.Unlock()
		_, err := l.w.Write(out)
		l.mu.Lock()
		if cap(out) <= maxPendingLog {
			l.spare = out[:0]
		}
		l.drained.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}
