package integration

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterNodeTimeout is the cluster's cluster-node-timeout: how long a
// node may be unreachable before the others take it as failed. Short, so
// that tests see a stopped node's effect within a second or two.
const clusterNodeTimeout = 1000 * time.Millisecond

// RedisCluster is a throwaway Redis Cluster of three masters without
// replicas on loopback ports, in directories of the test's, for tests of
// the cluster topology. With Redis's default cluster-require-full-coverage,
// the whole cluster refuses commands while one master is stopped.
type RedisCluster struct {
	nodes []*redisProcess
}

// StartRedisCluster starts three cluster nodes that keep no data across a
// restart, joins them with redis-cli --cluster create (the 16384 slots
// shared among them), and waits until every node reports
// cluster_state:ok. They are killed at cleanup. Without redis-server or
// redis-cli the test is skipped, or fails when integration tests are
// required.
func StartRedisCluster(t *testing.T) *RedisCluster {
	t.Helper()
	return startRedisCluster(t, []string{"--appendonly", "no"})
}

// StartDurableRedisCluster is StartRedisCluster with nodes that keep every
// write they acknowledged across a kill and restart (an append-only file
// synced on every write), as a deployment that keeps tokens would run.
func StartDurableRedisCluster(t *testing.T) *RedisCluster {
	t.Helper()
	return startRedisCluster(t, []string{"--appendonly", "yes", "--appendfsync", "always"})
}

func startRedisCluster(t *testing.T, persistence []string) *RedisCluster {
	t.Helper()
	requireRedis(t, "redis-server", "redis-cli")
	c := &RedisCluster{}
	t.TempDir() // before killAll's clean-up, as in StartRedisSentinel
	t.Cleanup(func() { killAll(t, c.nodes) })
	for i := range 3 {
		dir := t.TempDir()
		node, err := startOnFreePorts(func(port, bus int) (*redisProcess, error) {
			return &redisProcess{
				name: fmt.Sprintf("cluster node %d", i), dir: dir, port: port,
				args: append([]string{
					"--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
					"--bind", "127.0.0.1", "--dir", dir,
					"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
					"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds())),
					"--save", "", "--daemonize", "no", "--logfile", "",
				}, persistence...),
			}, nil
		})
		if err != nil {
			t.Fatalf("starting cluster node %d: %v", i, err)
		}
		c.nodes = append(c.nodes, node)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.awaitOK(t)
	return c
}

// URL is the cluster's URL in go-redis's form: the first node's address
// and the others' as addr parameters.
func (c *RedisCluster) URL() string {
	addrs := make([]string, 0, len(c.nodes)-1)
	for _, n := range c.nodes[1:] {
		addrs = append(addrs, "addr="+n.addr())
	}
	return "redis+cluster://" + c.nodes[0].addr() + "?" + strings.Join(addrs, "&")
}

// Addrs are the nodes' addresses, host:port, in the order StopNode and
// StartNode number them.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	return addrs
}

// StopNode kills node i (0 to 2) with SIGKILL, as a crash would, and waits
// for it to exit. Its keys are lost, unless the cluster is durable.
func (c *RedisCluster) StopNode(t *testing.T, i int) {
	t.Helper()
	if err := c.nodes[i].kill(); err != nil {
		t.Fatal(err)
	}
}

// StartNode starts node i again, after StopNode, on its ports and with its
// nodes.conf, so that it rejoins with its slots (and, unless the cluster
// is durable, no keys), and waits
// until every node reports cluster_state:ok again.
func (c *RedisCluster) StartNode(t *testing.T, i int) {
	t.Helper()
	if err := c.nodes[i].start(); err != nil {
		t.Fatalf("restarting cluster node %d: %v", i, err)
	}
	c.awaitOK(t)
}

// awaitOK polls, for up to 30 seconds, until every running node reports
// the cluster's state ok, all its slots served and all three nodes known.
func (c *RedisCluster) awaitOK(t *testing.T) {
	t.Helper()
	want := map[string]string{"cluster_state": "ok", "cluster_slots_ok": "16384", "cluster_known_nodes": "3"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.check(want)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis cluster not ok within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the servers: no event to wait on
	}
}

// check returns why some running node's CLUSTER INFO differs from want.
func (c *RedisCluster) check(want map[string]string) error {
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		got, err := info(n.addr(), "cluster")
		if err != nil {
			return err
		}
		for field, v := range want {
			if got[field] != v {
				return fmt.Errorf("%s: %s is %q, not %s", n.name, field, got[field], v)
			}
		}
	}
	return nil
}
