package httpapi

import (
	"sync/atomic"
	"time"
)

// workerIdle is how long a worker waits for its next job before it ends.
const workerIdle = time.Second

// workers runs each request's work on a goroutine kept from an earlier
// request when one is idle, and on a new one otherwise. A new goroutine
// starts with a small stack that the work grows, copying it each time, on
// every request; a kept one has grown already. Workers end after
// workerIdle without a job, so at most as many are kept as requests ran at
// once within the last second, each holding only its stack. A nil
// *workers starts a new goroutine for each job.
type workers struct {
	jobs    chan func()  // unbuffered: a send succeeds only to an idle worker
	started atomic.Int64 // workers started, for tests
}

func newWorkers() *workers { return &workers{jobs: make(chan func())} }

// run starts job at once on an idle worker or a new one, and returns
// without waiting for it.
func (w *workers) run(job func()) {
	if w == nil {
		go job()
		return
	}
	select {
	case w.jobs <- job:
	default:
		w.started.Add(1)
		go w.work(job)
	}
}

// work runs job, then the jobs it is handed, until none comes within
// workerIdle.
func (w *workers) work(job func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
