package main

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter keeps every write it is given, and can hold writes back.
type recordingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	entered chan struct{} // when set, gets a value as each write begins
	gate    chan struct{} // when set, each write waits for a value
	fail    error
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	if r.entered != nil {
		r.entered <- struct{}{}
	}
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if r.fail != nil {
		return 0, r.fail
	}
	return r.buf.Write(p)
}

func (r *recordingWriter) snapshot() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), r.writes
}

func TestLogWriterKeepsEveryLineWholeAndInOrder(t *testing.T) {
	rec := &recordingWriter{}
	l := newLogWriter(rec)
	const loggers, lines = 16, 500
	var wg sync.WaitGroup
	for g := range loggers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				line := fmt.Sprintf("{\"logger\":%d,\"line\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%50))
				if _, err := l.Write([]byte(line)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := rec.snapshot()
	next := make([]int, loggers)
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != loggers*lines {
		t.Fatalf("%d lines written, want %d", len(got), loggers*lines)
	}
	for _, line := range got {
		var g, i int
		if _, err := fmt.Sscanf(line, "{\"logger\":%d,\"line\":%d,", &g, &i); err != nil {
			t.Fatalf("line %q is not whole: %v", line, err)
		}
		if i != next[g] {
			t.Fatalf("logger %d: line %d came where line %d was due", g, i, next[g])
		}
		next[g]++
	}
	t.Logf("%d lines in %d writes", len(got), writes)
}

func TestLogWriterWritesALoneLineWithoutWaitingForMore(t *testing.T) {
	rec := &recordingWriter{}
	l := newLogWriter(rec)
	defer l.Close()
	for i := range 3 {
		line := fmt.Sprintf("line %d\n", i)
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for out, _ := rec.snapshot(); !strings.HasSuffix(out, line); out, _ = rec.snapshot() {
			if time.Now().After(deadline) {
				t.Fatalf("%q not written within 5s with nothing else to log", line)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestLogWriterWritesAtMostOncePerLinger streams lines faster than one a
// millisecond, as a daemon under load logs its requests, and counts the
// writes: the writer waits logLinger after it is woken before it takes
// the queue, so that one write carries every line logged meanwhile, not
// one or two (a system call each).
func TestLogWriterWritesAtMostOncePerLinger(t *testing.T) {
	rec := &recordingWriter{}
	l := newLogWriter(rec)
	const loggers, lines = 4, 2000
	start := time.Now()
	var wg sync.WaitGroup
	for range loggers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range lines {
				if _, err := l.Write([]byte("a request\n")); err != nil {
					t.Error(err)
					return
				}
				runtime.Gosched() // let the writer run between lines
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	out, writes := rec.snapshot()
	if n := strings.Count(out, "\n"); n != loggers*lines {
		t.Fatalf("%d lines written, want %d", n, loggers*lines)
	}
	// Each write but the one Close makes comes after a full linger.
	if most := int(elapsed/logLinger) + 1; writes > most {
		t.Errorf("%d lines in %d writes over %v, want at most %d (one per %v)",
			loggers*lines, writes, elapsed, most, logLinger)
	}
	t.Logf("%d lines in %d writes over %v", loggers*lines, writes, elapsed)
}

// TestLogWriterCloseDoesNotWaitOutTheLinger closes the writer while it
// lingers: what is queued goes out at once.
func TestLogWriterCloseDoesNotWaitOutTheLinger(t *testing.T) {
	rec := &recordingWriter{}
	l := newLogWriter(rec)
	l.linger = time.Hour
	if _, err := l.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the linger")
	}
	if out, _ := rec.snapshot(); out != "last\n" {
		t.Errorf("output %q, want the queued line", out)
	}
}

func TestLogWriterBatchesLinesQueuedDuringAWrite(t *testing.T) {
	rec := &recordingWriter{entered: make(chan struct{}, 4), gate: make(chan struct{})}
	l := newLogWriter(rec)
	if _, err := l.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	<-rec.entered       // the writer is writing "first"
	for i := range 10 { // queued meanwhile: none waits
		if _, err := l.Write([]byte(fmt.Sprintf("queued %d\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	rec.gate <- struct{}{} // "first"
	<-rec.entered
	rec.gate <- struct{}{} // the ten queued lines, in one write
	close(rec.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := rec.snapshot()
	if writes != 2 {
		t.Errorf("%d writes, want 2 (one line, then the ten queued behind it)", writes)
	}
	if !strings.HasPrefix(out, "first\nqueued 0\n") || !strings.HasSuffix(out, "queued 9\n") {
		t.Errorf("output %q", out)
	}
}

func TestLogWriterBoundsWhatWaits(t *testing.T) {
	rec := &recordingWriter{entered: make(chan struct{}, 8), gate: make(chan struct{})}
	l := newLogWriter(rec)
	if _, err := l.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	<-rec.entered // the writer is stuck writing "held"
	big := bytes.Repeat([]byte("y"), maxPendingLog)
	if _, err := l.Write(big); err != nil { // fills the queue
		t.Fatal(err)
	}
	blocked := make(chan struct{})
	go func() { _, _ = l.Write([]byte("over\n")); close(blocked) }()
	select {
	case <-blocked:
		t.Fatal("a line past the bound was queued without waiting for the writer")
	case <-time.After(50 * time.Millisecond):
	}
	close(rec.gate) // the writer goes on
	<-blocked
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := rec.snapshot(); !strings.HasSuffix(out, "over\n") || len(out) != len("held\n")+maxPendingLog+len("over\n") {
		t.Errorf("output of %d bytes, want every line", len(out))
	}
}

func TestLogWriterCloseReturnsTheWriteError(t *testing.T) {
	broken := errors.New("broken pipe")
	l := newLogWriter(&recordingWriter{fail: broken})
	if _, err := l.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close = %v, want %v", err, broken)
	}
}

// TestLogWriterKeepsOrderDuringClose logs a line while Close waits for
// the writer to write what is queued: it goes out after those lines, not
// before them.
func TestLogWriterKeepsOrderDuringClose(t *testing.T) {
	rec := &recordingWriter{entered: make(chan struct{}, 8), gate: make(chan struct{})}
	l := newLogWriter(rec)
	if _, err := l.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	<-rec.entered // the writer is writing "first" to a slow standard error
	if _, err := l.Write([]byte("queued\n")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	for {
		l.mu.Lock()
		c := l.closed
		l.mu.Unlock()
		if c {
			break
		}
		runtime.Gosched() // Close has begun once closed is set: nothing to wait on
	}
	wrote := make(chan error, 1)
	go func() { _, err := l.Write([]byte("late\n")); wrote <- err }()
	select { // a write of "late" beside the writer's would begin here
	case <-rec.entered:
	case <-time.After(100 * time.Millisecond):
	}
	// Standard error goes on, one write at a time, in the order the
	// writes came to it.
	for range 3 {
		select {
		case rec.gate <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("fewer than three writes came")
		}
	}
	close(rec.gate)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if out, _ := rec.snapshot(); out != "first\nqueued\nlate\n" {
		t.Errorf("output %q, want %q: a line went out before one queued earlier", out, "first\nqueued\nlate\n")
	}
}

func TestLogWriterWritesDirectlyAfterClose(t *testing.T) {
	rec := &recordingWriter{}
	l := newLogWriter(rec)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	if out, _ := rec.snapshot(); out != "late\n" {
		t.Errorf("output %q, want the line written at once", out)
	}
}

// After a batch too large to keep as the next queue, the writer must not
// hand the queue's own memory back as the queue: lines queued while it
// writes would overwrite the batch it is writing.
func TestLogWriterDoesNotOverwriteTheBatchBeingWritten(t *testing.T) {
	rec := &recordingWriter{entered: make(chan struct{}, 8), gate: make(chan struct{})}
	l := newLogWriter(rec)
	l.linger = 0
	line := func(c byte) []byte { return append(bytes.Repeat([]byte{c}, 999), '\n') }
	write := func(c byte, n int) {
		for range n {
			if _, err := l.Write(line(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write('a', 1)
	<-rec.entered                    // the writer is writing "a"
	write('b', maxPendingLog/1000+1) // a queue past maxPendingLog
	rec.gate <- struct{}{}           // "a" is written
	<-rec.entered                    // the writer is writing the "b" lines
	write('x', 1)
	rec.gate <- struct{}{} // the "b" lines are written
	<-rec.entered          // the writer is writing "x"
	write('y', 1)
	rec.gate <- struct{}{} // "x" is written
	close(rec.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, _ := rec.snapshot()
	x, y := strings.Count(out, string(line('x'))), strings.Count(out, string(line('y')))
	if x != 1 || y != 1 {
		t.Errorf("got %d x lines and %d y lines, want one of each", x, y)
	}
}
