package httpapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWorkersReuseAnIdleWorker(t *testing.T) {
	w := newWorkers()
	done := make(chan struct{}, 1)
	w.run(func() { done <- struct{}{} })
	<-done
	for i := range 50 {
		// The worker takes the next job once it is back waiting for one.
		select {
		case w.jobs <- func() { done <- struct{}{} }:
		case <-time.After(5 * time.Second):
			t.Fatalf("job %d: no idle worker took it within 5s", i)
		}
		<-done
	}
	if n := w.started.Load(); n != 1 {
		t.Errorf("51 jobs one after another started %d workers, want 1", n)
	}
}

func TestWorkersStartOnePerConcurrentJob(t *testing.T) {
	w := newWorkers()
	const jobs = 10
	var running, release sync.WaitGroup
	running.Add(jobs)
	release.Add(1)
	for range jobs {
		w.run(func() { running.Done(); release.Wait() })
	}
	running.Wait() // every job runs at once: none waited for another
	release.Done()
	if n := w.started.Load(); n != jobs {
		t.Errorf("started %d workers for %d jobs at once, want %d", n, jobs, jobs)
	}
}

func TestWorkersEndWhenIdle(t *testing.T) {
	before := goleak.IgnoreCurrent()
	w := newWorkers()
	done := make(chan struct{})
	w.run(func() { close(done) })
	<-done
	// goleak retries for about a second, workerIdle; give it twice that.
	deadline := time.Now().Add(2*workerIdle + time.Second)
	for {
		err := goleak.Find(before)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("an idle worker is still running after %v: %v", 2*workerIdle+time.Second, err)
		}
	}
}

func TestWorkerSurvivesAPanickingJob(t *testing.T) {
	w := newWorkers()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("untilDone swallowed the work's panic")
			}
		}()
		untilDone(context.Background(), w, func() int { panic("boom") }, nil)
	}()
	waitUntil(t, func() bool { return w.started.Load() == 1 })
	got, ok := untilDone(context.Background(), w, func() int { return 7 }, nil)
	if !ok || got != 7 {
		t.Fatalf("after a panic: got %d, %v; want 7, true", got, ok)
	}
}

func TestOKBodyIsWhatWriteJSONWrites(t *testing.T) {
	want := httptest.NewRecorder()
	writeJSON(want, 200, map[string]string{"status": "ok"})
	got := httptest.NewRecorder()
	writeOK(got)
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("writeOK body %q, writeJSON body %q", got.Body.Bytes(), want.Body.Bytes())
	}
	for _, h := range []string{"Content-Type", "Cache-Control"} {
		if g, w := got.Header().Get(h), want.Header().Get(h); g != w {
			t.Errorf("%s: writeOK %q, writeJSON %q", h, g, w)
		}
	}
	if got.Code != 200 {
		t.Errorf("status %d, want 200", got.Code)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
