package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// Replicas: several OS processes, each with many goroutines, ask at once
// for the same child of one parent. The repository lock must leave exactly
// one child in each store.

const (
	workerEnv       = "TOKENCACHE_TEST_WORKER"
	workerProcesses = 4
	workerRequests  = 50
)

// workerJob is what the parent test hands each worker process. The parent
// goes as its token, which the worker reads from Redis as a caller of the
// library does: the JSON of domain.TokenData leaves the secret out.
type workerJob struct {
	Config  app.Config
	Parent  string    // "gt-<key>.<secret>"
	StartAt time.Time // all workers start asking at this moment
}

func TestIntegrationReplicasCreateOneChild(t *testing.T) {
	e := newRealEnv(t)
	p := e.addParent(t, 7*24*time.Hour)
	job, err := json.Marshal(workerJob{Config: e.cfg, Parent: p.Token.String(), StartAt: time.Now().Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	outputs := make([]bytes.Buffer, workerProcesses)
	var wg sync.WaitGroup
	for i := range workerProcesses {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationReplicaWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), workerEnv+"="+string(job))
		cmd.Stdout = &outputs[i]
		cmd.Stderr = &outputs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				t.Errorf("worker %d: %v\n%s", i, err, outputs[i].String())
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	tokens := map[string]int{}
	for i := range outputs {
		sc := bufio.NewScanner(&outputs[i])
		for sc.Scan() {
			if key, ok := strings.CutPrefix(sc.Text(), "CHILD "); ok {
				tokens[key]++
			}
		}
	}
	if len(tokens) != 1 {
		t.Fatalf("workers were handed %d different children, want 1: %v", len(tokens), tokens)
	}
	for key, n := range tokens {
		if n != workerProcesses*workerRequests {
			t.Fatalf("child %s handed out %d times, want %d", key, n, workerProcesses*workerRequests)
		}
	}
	var history int
	if err := e.db.Get(&history, `SELECT count(*) FROM token_change_history WHERE parent = $1`, p.Token.Key); err != nil {
		t.Fatal(err)
	}
	if rows := e.children(t, p.Token.Key); rows != 1 || history != 1 {
		t.Fatalf("%d child rows and %d history rows, want 1 and 1", rows, history)
	}
	if n := e.redisChildren(t, p.Username); n != 1 {
		t.Fatalf("%d children in Redis, want 1", n)
	}
}

// TestIntegrationReplicaWorker is one replica of the test above; it runs
// only in a process that test starts.
func TestIntegrationReplicaWorker(t *testing.T) {
	raw := os.Getenv(workerEnv)
	if raw == "" {
		t.Skip("runs only as a worker process of TestIntegrationReplicasCreateOneChild")
	}
	var job workerJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		t.Fatal(err)
	}
	svc, cleanup, err := app.InitializeTokenCacheService(context.Background(), job.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	parent := readParent(t, job.Config, job.Parent)
	time.Sleep(time.Until(job.StartAt)) // a start line shared by processes
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workerRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := svc.GetInternalToken(context.Background(), parent, "portal", []string{"read:all"}, "192.0.2.1", 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Printf("CHILD %s\n", tok.Key)
		}()
	}
	wg.Wait()
}

// readParent reads the token data of the parent token presented as s from
// the Redis of cfg.
func readParent(t *testing.T, cfg app.Config, s string) domain.TokenData {
	t.Helper()
	ctx := context.Background()
	presented, err := domain.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	client, closeClient, err := redis.NewClient(ctx, cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient()
	store, err := redis.NewTokenStore(client, cfg.SessionSecret, memory.SystemClock{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	parent, err := store.Get(ctx, presented)
	if err != nil {
		t.Fatal(err)
	}
	return parent
}
