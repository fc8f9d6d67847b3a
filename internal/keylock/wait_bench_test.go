package keylock

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFlightsHerd measures a herd of 1000 goroutines on one key, from
// their start until all have the holder's result, against its floor in
// the same run: 1000 goroutines that park on one channel and are woken by
// closing it, which is what the runtime charges for any herd. Both start
// parked on a channel, as requests woken by the network do; in both, the
// last to arrive wakes the releaser. It reports both times and
// herd/floor.
func BenchmarkFlightsHerd(b *testing.B) {
	const herd = 1000
	var flightsTime, floorTime time.Duration
	for range b.N {
		flightsTime += timeHerd(b, herd, func(arrived func()) (wait, release func()) {
			var f Flights[int]
			unlock, _, _ := f.LockOrWait(context.Background(), "k")
			return func() {
					arrived()
					if _, v, _ := f.LockOrWait(context.Background(), "k"); v != 1 {
						b.Errorf("a waiter got %d, want the holder's 1", v)
					}
				}, func() {
					for f.Waiting() != herd { // the last is about to wait
						runtime.Gosched()
					}
					unlock(1)
				}
		})
		floorTime += timeHerd(b, herd, func(arrived func()) (wait, release func()) {
			released := make(chan struct{})
			return func() {
					arrived()
					<-released
				}, func() {
					close(released)
				}
		})
	}
	b.ReportMetric(float64(flightsTime.Nanoseconds())/float64(b.N), "herd-ns/op")
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(flightsTime)/float64(floorTime), "herd/floor")
}

// timeHerd starts n goroutines, each parked until a common start, then
// calling wait; arrived, which wait calls first, wakes the releaser, which
// calls release, once all n have arrived. It times them from the start
// until every wait has returned.
func timeHerd(b *testing.B, n int, setUp func(arrived func()) (wait, release func())) time.Duration {
	b.StopTimer()
	start, all := make(chan struct{}), make(chan struct{})
	var count atomic.Int64
	wait, release := setUp(func() {
		if count.Add(1) == int64(n) {
			close(all)
		}
	})
	var wg sync.WaitGroup
	wg.Add(n + 1)
	go func() {
		defer wg.Done()
		<-all
		release()
	}()
	for range n {
		go func() {
			defer wg.Done()
			<-start
			wait()
		}()
	}
	runtime.Gosched()
	b.StartTimer()
	began := time.Now()
	close(start)
	wg.Wait()
	return time.Since(began)
}
