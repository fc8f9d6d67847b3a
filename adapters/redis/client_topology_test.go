package redis_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

func TestNewClientTopologyRejectsBadURL(t *testing.T) {
	t.Parallel()
	const pw = urlPassword
	for _, tc := range []struct {
		name, url, want string
	}{
		{"unknown scheme", "redis+raft://:" + pw + "@127.0.0.1:6379", "unsupported scheme"},
		{"sentinel without master name", "redis+sentinel://:" + pw + "@127.0.0.1:26379?addr=127.0.0.1:26380", "master_name is missing"},
		{"sentinel master password only", "redis+sentinel://127.0.0.1:26379?password=" + pw, "master_name is missing"},
		{"sentinel replica only", "redis+sentinel://:" + pw + "@127.0.0.1:26379?master_name=m&replica_only=true", "not supported"},
		{"sentinel route by latency", "rediss+sentinel://:" + pw + "@127.0.0.1:26379?master_name=m&route_by_latency=true", "not supported"},
		{"sentinel password option", "redis+sentinel://127.0.0.1:26379?master_name=m&sentinel_password=" + pw, "unexpected option"},
		// Any failure: an "&" in the password would split it there.
		{"sentinel password option not last", "redis+sentinel://127.0.0.1:1?password=" + pw + "&master_name=m", "put a password= option last"},
		{"sentinel bad database", "redis+sentinel://:" + pw + "@127.0.0.1:26379/zero?master_name=m", "database"},
		{"sentinel bad option value", "redis+sentinel://:" + pw + "@127.0.0.1:26379?master_name=m&dial_timeout=soon", "dial_timeout"},
		{"sentinel bad port", "redis+sentinel://:" + pw + "@127.0.0.1:port?master_name=m", "port"},
		{"sentinel control char", "redis+sentinel://u:" + pw + "@127.0.0.1:26379\x7f?master_name=m", "control character"},
		{"cluster database", "redis+cluster://:" + pw + "@127.0.0.1:7000/3", "database 0 only"},
		{"cluster bad addr", "rediss+cluster://:" + pw + "@127.0.0.1:7000?addr=nowhere", "addr"},
		{"cluster unknown option", "redis+cluster://:" + pw + "@127.0.0.1:7000?password=" + pw, "unexpected option"},
		{"cluster bad port", "redis+cluster://:" + pw + "@127.0.0.1:port", "port"},
		// Reads from replicas would see a token revoked on its master as
		// live, and a child just made as missing, for as long as they lag.
		{"cluster read only", "redis+cluster://:" + pw + "@127.0.0.1:7000?addr=127.0.0.1:7001&read_only=true", "not supported"},
		{"cluster route by latency", "redis+cluster://:" + pw + "@127.0.0.1:7000?route_by_latency=true", "not supported"},
		{"cluster route randomly", "rediss+cluster://:" + pw + "@127.0.0.1:7000?route_randomly=true", "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, cleanup, err := redis.NewClient(context.Background(), tc.url)
			if err == nil {
				cleanup()
				t.Fatalf("NewClient accepted %q", tc.url)
			}
			if client != nil || cleanup != nil {
				t.Error("NewClient returned a client or cleanup with its error")
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q contains the password", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestNewClientTopologyUnreachable(t *testing.T) {
	t.Parallel()
	addr := unusedAddr(t)
	for _, tc := range []struct {
		name, url, want string
	}{
		{"sentinel", fmt.Sprintf("redis+sentinel://:%s@%s?master_name=mymaster&password=%s", urlPassword, addr, urlPassword),
			fmt.Sprintf("connecting to redis sentinel master %q via %s", "mymaster", addr)},
		{"cluster", fmt.Sprintf("redis+cluster://:%s@%s", urlPassword, addr),
			"connecting to redis cluster at " + addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, cleanup, err := redis.NewClient(context.Background(), tc.url)
			if err == nil {
				cleanup()
				t.Fatalf("NewClient connected to %s, where nothing listens", addr)
			}
			if client != nil || cleanup != nil {
				t.Error("NewClient returned a client or cleanup with its error")
			}
			if strings.Contains(err.Error(), urlPassword) {
				t.Fatalf("error %q contains the password", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// A single server named as a cluster is refused at start.
func TestNewClientClusterRefusesSingleServer(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(integration.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client, cleanup, err := redis.NewClient(context.Background(), "redis+cluster://"+u.Host)
	if err == nil {
		cleanup()
		t.Fatalf("NewClient took the single server at %s for a cluster", u.Host)
	}
	if client != nil || cleanup != nil {
		t.Error("NewClient returned a client or cleanup with its error")
	}
	if !strings.Contains(err.Error(), "redis cluster at "+u.Host) || !strings.Contains(err.Error(), "cluster support disabled") {
		t.Errorf("error %q does not say the server is no cluster", err)
	}
}

func TestNewClientCluster(t *testing.T) {
	t.Parallel()
	cluster := integration.StartRedisCluster(t)
	ctx := context.Background()
	for _, u := range []string{cluster.URL(), strings.Replace(cluster.URL(), "?", "/0?", 1)} {
		client, cleanup, err := redis.NewClient(ctx, u)
		if err != nil {
			t.Fatalf("NewClient(%s): %v", u, err)
		}
		t.Cleanup(cleanup)
		if _, ok := client.(*goredis.ClusterClient); !ok {
			t.Fatalf("NewClient(%s) made a %T, want a *goredis.ClusterClient", u, client)
		}
		// Keys spread over the three masters.
		for i := range 30 {
			key := fmt.Sprintf("token:%d", i)
			if err := client.Set(ctx, key, i, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", key, err)
			}
			if got, err := client.Get(ctx, key).Int(); err != nil || got != i {
				t.Fatalf("GET %s = %v, %v; want %d", key, got, err, i)
			}
		}
	}

	// A cluster with a master down is refused at start, by name.
	cluster.StopNode(t, 1)
	client, cleanup, err := redis.NewClient(ctx, cluster.URL())
	if err == nil {
		cleanup()
		t.Fatal("NewClient accepted a cluster with a master down")
	}
	if client != nil || cleanup != nil {
		t.Error("NewClient returned a client or cleanup with its error")
	}
	if want := "connecting to redis cluster at " + strings.Join(cluster.Addrs(), ", "); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestNewClientSentinel(t *testing.T) {
	t.Parallel()
	sentinel := integration.StartRedisSentinel(t)
	ctx := context.Background()
	client, cleanup, err := redis.NewClient(ctx, sentinel.URL())
	if err != nil {
		t.Fatalf("NewClient(%s): %v", sentinel.URL(), err)
	}
	t.Cleanup(cleanup)
	if err := client.Set(ctx, "token:sentinel", "written", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	// The write went to the master.
	master := goredis.NewClient(&goredis.Options{Addr: sentinel.MasterAddr()})
	t.Cleanup(func() { _ = master.Close() })
	if got, err := master.Get(ctx, "token:sentinel").Result(); err != nil || got != "written" {
		t.Errorf("GET on the master = %q, %v; want what the client wrote", got, err)
	}

	// A master name the sentinels do not know is refused at start, by name.
	unknown := strings.Replace(sentinel.URL(), "master_name="+integration.SentinelMasterName, "master_name=nosuch", 1)
	client, cleanup, err = redis.NewClient(ctx, unknown)
	if err == nil {
		cleanup()
		t.Fatal("NewClient accepted a master name the sentinels do not know")
	}
	if client != nil || cleanup != nil {
		t.Error("NewClient returned a client or cleanup with its error")
	}
	if want := fmt.Sprintf("redis sentinel master %q via ", "nosuch"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// unusedAddr is a loopback address that was just free: nothing listens
// there.
func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
