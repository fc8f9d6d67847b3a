package integration

import (
	"net/url"
	"slices"
	"testing"
)

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t)
	u, err := url.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got := append([]string{u.Host}, u.Query()["addr"]...); !slices.Equal(got, c.Addrs()) {
		t.Errorf("URL %s names %v, want %v", c.URL(), got, c.Addrs())
	}
	c.StopNode(t, 1)
	if err := ping(c.Addrs()[1]); err == nil {
		t.Fatal("a stopped node answers")
	}
	c.StartNode(t, 1)
	for _, addr := range c.Addrs() {
		state, err := info(addr, "cluster")
		if err != nil {
			t.Fatal(err)
		}
		if state["cluster_state"] != "ok" {
			t.Errorf("%s: cluster_state %s after the restart", addr, state["cluster_state"])
		}
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	s := StartRedisSentinel(t)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got := append([]string{u.Host}, u.Query()["addr"]...); !slices.Equal(got, s.SentinelAddrs()) {
		t.Errorf("URL %s names %v, want %v", s.URL(), got, s.SentinelAddrs())
	}
	if u.Query().Get("master_name") != SentinelMasterName {
		t.Errorf("URL %s has no master_name=%s", s.URL(), SentinelMasterName)
	}
	old := s.MasterAddr()
	if _, err := redisCommand(old, "SET", "before-failover", "1"); err != nil {
		t.Fatalf("SET on the master: %v", err)
	}
	s.Failover(t)
	if s.MasterAddr() == old || s.ReplicaAddr() != old {
		t.Fatalf("master %s and replica %s after Failover, from master %s", s.MasterAddr(), s.ReplicaAddr(), old)
	}
	reply, err := redisCommand(s.MasterAddr(), "GET", "before-failover")
	if err != nil || reply != "1" {
		t.Errorf("GET on the new master = %v, %v; want the key the old one had", reply, err)
	}
	if _, err := redisCommand(s.MasterAddr(), "SET", "after-failover", "1"); err != nil {
		t.Errorf("SET on the new master: %v", err)
	}
}
