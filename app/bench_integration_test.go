package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/domain"
)

// BenchmarkIntegrationCacheHit measures a cache hit of the composed service
// and its floor, one Redis GET of the child plus its decryption, in the
// same run, alternating them so that both see the same machine, and
// reports hit/floor (the target is at most 1.2).
func BenchmarkIntegrationCacheHit(b *testing.B) {
	quiet := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(quiet)

	e := newRealEnv(b)
	ctx := context.Background()
	p := e.addParent(b, 7*24*time.Hour)
	child, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
	if err != nil {
		b.Fatal(err)
	}
	keys := fernet.MustDecodeKeys(e.cfg.SessionSecret)
	redisKey := "token:" + child.Key

	floor := func() {
		value, err := e.raw.Get(ctx, redisKey).Bytes()
		if err != nil || fernet.VerifyAndDecrypt(value, 0, keys) == nil {
			b.Fatalf("floor: %v", err)
		}
	}
	hit := func() {
		got, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 0)
		if err != nil || got != child {
			b.Fatalf("hit: %v", err)
		}
	}
	for range 200 { // warm both paths and the connection pool
		floor()
		hit()
	}
	var floorTime, hitTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		floor()
		mid := time.Now()
		hit()
		end := time.Now()
		floorTime += mid.Sub(start)
		hitTime += end.Sub(mid)
	}
	b.StopTimer()
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(hitTime.Nanoseconds())/float64(b.N), "hit-ns/op")
	b.ReportMetric(float64(hitTime)/float64(floorTime), "hit/floor")
}

// BenchmarkIntegrationColdBurst sends 1000 concurrent requests for the same
// cold child (a new parent each round) and, in the same round, one request
// for the cold child of another new parent alone. It reports how many
// children each burst made (the target is exactly 1), both durations and
// burst/lone (the target is at most 2: the waiters take the creator's
// result instead of each reading the token store again).
func BenchmarkIntegrationColdBurst(b *testing.B) {
	quiet := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(quiet)

	const burst = 1000
	e := newRealEnv(b)
	ctx := context.Background()
	for range 20 { // warm the connection pools
		e.notebook(b, e.addParent(b, 7*24*time.Hour))
	}
	children := 0
	var burstTime, loneTime time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p, alone := e.addParent(b, 7*24*time.Hour), e.addParent(b, 7*24*time.Hour)
		start := make(chan struct{})
		var ready, wg sync.WaitGroup
		for range burst {
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				if _, err := e.svc.GetNotebookToken(ctx, p, "192.0.2.1", 0); err != nil {
					b.Error(err)
				}
			}()
		}
		ready.Wait()
		b.StartTimer()
		began := time.Now()
		close(start)
		wg.Wait()
		burstTime += time.Since(began)
		began = time.Now()
		e.notebook(b, alone)
		loneTime += time.Since(began)
		b.StopTimer()
		children += e.children(b, p.Token.Key)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(children)/float64(b.N), "children/burst")
	b.ReportMetric(float64(burstTime.Nanoseconds())/float64(b.N), "burst-ns/op")
	b.ReportMetric(float64(loneTime.Nanoseconds())/float64(b.N), "lone-ns/op")
	b.ReportMetric(float64(burstTime)/float64(loneTime), "burst/lone")
}

// BenchmarkIntegrationCreationAfterCancel measures, in the same run, a
// creation on its own and a creation made right after a caller gave up
// on another one just after its repository work had taken the lock (its
// first lookup answered), and reports
// after-cancel/normal (the target is at most 1.5). A caller who leaves
// must not cost a connection the next creation has to make again.
func BenchmarkIntegrationCreationAfterCancel(b *testing.B) {
	e := newRealEnv(b)
	ps := newProbedService(b, e)
	create := func(p domain.TokenData) time.Duration {
		start := time.Now()
		if _, err := ps.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// round times a creation alone, then one right after a caller left
	// another, and waits untimed for the work of the one who left.
	round := func() (normal, after time.Duration) {
		b.StopTimer()
		alone, left, next := e.addParent(b, 7*24*time.Hour), e.addParent(b, 7*24*time.Hour), e.addParent(b, 7*24*time.Hour)
		b.StartTimer()
		normal = create(alone)

		ctx, cancel := context.WithCancel(context.Background())
		ps.repo.cancelAfterNextLock(cancel)
		if _, err := ps.svc.GetNotebookToken(ctx, left, "192.0.2.1", 0); !errors.Is(err, context.Canceled) {
			b.Fatalf("the caller who left got %v, want context.Canceled", err)
		}
		after = create(next)

		b.StopTimer()
		ps.waitForWork(b)
		b.StartTimer()
		return normal, after
	}
	// Warm the connection pools as the rounds use them: two creations at
	// once need two connections, which the first round would otherwise
	// open (once, cancel or none) and count.
	for range 5 {
		round()
	}
	var normal, after time.Duration
	b.ResetTimer()
	for range b.N {
		n, a := round()
		normal += n
		after += a
	}
	b.StopTimer()
	b.ReportMetric(float64(normal.Nanoseconds())/float64(b.N), "normal-ns/op")
	b.ReportMetric(float64(after.Nanoseconds())/float64(b.N), "after-cancel-ns/op")
	b.ReportMetric(float64(after)/float64(normal), "after-cancel/normal")
}
