package redis

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// A sentinel that closed the poll's connection (its timeout, CLIENT KILL)
// does not fail the next poll, which would drop every client cache.
func TestSentinelPollSurvivesASentinelClosingItsConnection(t *testing.T) {
	group := integration.StartRedisSentinel(t)
	sentinel := group.SentinelAddrs()[0]
	u, err := url.Parse("redis+sentinel://" + sentinel + "?master_name=" + integration.SentinelMasterName)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newSentinelClient(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	time.Sleep(3 * sentinelPoll)
	admin := goredis.NewClient(&goredis.Options{Addr: sentinel})
	defer admin.Close()
	list, err := admin.Do(context.Background(), "CLIENT", "LIST").Text()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if !strings.Contains(line, "cmd=sentinel|master ") && !strings.Contains(line, "cmd=sentinel|replicas ") {
			continue
		}
		for _, field := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(field, "id="); ok && admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err() == nil {
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("no poll connection found in %s", list)
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), sentinelAnswer)
	defer cancel()
	if _, err := f.watch.master(ctx); err != nil {
		t.Errorf("the poll after the sentinel closed its connection: %v", err)
	}
}

// Connections go-redis opens as the client is made (min_idle_conns) are
// counted too, so that the poll can close them after a failover.
func TestSentinelClientCountsConnectionsOpenedAtOnce(t *testing.T) {
	group := integration.StartRedisSentinel(t)
	u, err := url.Parse(group.URL() + "&min_idle_conns=5")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 { // a race: tried on twelve clients
		f, err := newSentinelClient(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		time.Sleep(150 * time.Millisecond)
		if counted, total := f.conns.to(group.MasterAddr()), int(f.PoolStats().TotalConns); counted < total {
			t.Errorf("client %d: %d of the pool's %d connections are counted: the poll cannot close the others", i, counted, total)
		}
	}
}
