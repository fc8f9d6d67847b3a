package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SentinelMasterName is the name the sentinels of a RedisSentinel monitor
// their master under.
const SentinelMasterName = "mymaster"

// sentinelDownAfter is the sentinels' down-after-milliseconds: how long
// the master may be unreachable before a sentinel takes it as down.
const sentinelDownAfter = 1000 * time.Millisecond

// RedisSentinel is a throwaway Redis Sentinel group on loopback ports, in
// directories of the test's: one master, one replica and three sentinels
// with a quorum of two, for tests of the Sentinel topology. Its servers
// keep no data across a restart.
type RedisSentinel struct {
	servers   []*redisProcess // the first started as master, the second as its replica
	sentinels []*redisProcess

	mu     sync.Mutex
	master string // host:port of the master the sentinels last agreed on
}

// StartRedisSentinel starts a master, its replica and three sentinels,
// and waits until every sentinel knows the master, the replica and the
// other two sentinels, and the replica is in sync. They are killed at
// cleanup. Without redis-server the test is skipped, or fails when
// integration tests are required.
func StartRedisSentinel(t *testing.T) *RedisSentinel {
	t.Helper()
	requireRedis(t, "redis-server")
	s := &RedisSentinel{}
	// Before killAll's clean-up: t.TempDir registers the removal of the
	// test's directories at its first call, and clean-ups run last first,
	// so killAll must come after it to still find the logs it shows.
	t.TempDir()
	t.Cleanup(func() { killAll(t, append(s.sentinels, s.servers...)) })
	for i, role := range []string{"master", "replica"} {
		dir := t.TempDir()
		server, err := startOnFreePorts(func(port, _ int) (*redisProcess, error) {
			args := []string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
				// Either may become master: a replica syncs at once.
				"--repl-diskless-sync-delay", "0",
			}
			if i == 1 {
				host, port, _ := net.SplitHostPort(s.servers[0].addr())
				args = append(args, "--replicaof", host, port)
			}
			return &redisProcess{name: fmt.Sprintf("sentinel group's server %d (first %s)", i, role), dir: dir, port: port, args: args}, nil
		})
		if err != nil {
			t.Fatalf("starting the sentinel group's %s: %v", role, err)
		}
		s.servers = append(s.servers, server)
	}
	s.master = s.servers[0].addr()
	for i := range 3 {
		dir := t.TempDir()
		sentinel, err := startOnFreePorts(func(port, _ int) (*redisProcess, error) {
			// A sentinel rewrites its configuration file: one of its own.
			conf := filepath.Join(dir, "sentinel.conf")
			if err := os.WriteFile(conf, []byte(s.sentinelConf(port, dir)), 0o600); err != nil {
				return nil, err
			}
			return &redisProcess{
				name: fmt.Sprintf("sentinel %d", i), dir: dir, port: port,
				args: []string{conf, "--sentinel"},
			}, nil
		})
		if err != nil {
			t.Fatalf("starting sentinel %d: %v", i, err)
		}
		s.sentinels = append(s.sentinels, sentinel)
	}
	s.await(t, "the sentinel group to be ready", s.ready)
	return s
}

// sentinelConf is the configuration of a sentinel on port.
func (s *RedisSentinel) sentinelConf(port int, dir string) string {
	host, masterPort, _ := net.SplitHostPort(s.master)
	return strings.Join([]string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
		"daemonize no",
		`logfile ""`,
		fmt.Sprintf("sentinel monitor %s %s %s 2", SentinelMasterName, host, masterPort),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", SentinelMasterName, sentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s 5000", SentinelMasterName),
		fmt.Sprintf("sentinel parallel-syncs %s 1", SentinelMasterName),
	}, "\n") + "\n"
}

// URL is the group's URL in go-redis's form: the first sentinel's address,
// the others' as addr parameters, and the master's name.
func (s *RedisSentinel) URL() string {
	var q []string
	for _, p := range s.sentinels[1:] {
		q = append(q, "addr="+p.addr())
	}
	q = append(q, "master_name="+SentinelMasterName)
	return "redis+sentinel://" + s.sentinels[0].addr() + "?" + strings.Join(q, "&")
}

// MasterAddr is the master's address, host:port, as the sentinels agreed
// on at start or after the last Failover.
func (s *RedisSentinel) MasterAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.master
}

// ReplicaAddr is the replica's address, host:port: the server that is not
// MasterAddr.
func (s *RedisSentinel) ReplicaAddr() string { return s.replica().addr() }

// SentinelAddrs are the sentinels' addresses, host:port.
func (s *RedisSentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, p := range s.sentinels {
		addrs[i] = p.addr()
	}
	return addrs
}

// Failover makes the sentinels promote the replica (SENTINEL FAILOVER),
// and waits until all three report it as the master and it answers as
// one. The old master keeps taking writes until the sentinels turn it
// into a replica, some eight seconds later (Sentinel waits that long
// before it reconfigures a server that says it is a master); a second
// Failover waits until then, since only a replica in sync can be
// promoted.
func (s *RedisSentinel) Failover(t *testing.T) {
	t.Helper()
	old := s.MasterAddr()
	s.await(t, "SENTINEL FAILOVER to be accepted", func() error {
		_, err := redisCommand(s.sentinels[0].addr(), "SENTINEL", "FAILOVER", SentinelMasterName)
		var reply replyError
		if errors.As(err, &reply) && !strings.HasPrefix(string(reply), "NOGOODSLAVE") && !strings.HasPrefix(string(reply), "INPROG") {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		return err
	})
	s.await(t, "the sentinels to report a new master", func() error {
		addr, err := s.agreedMaster()
		if err != nil {
			return err
		}
		if addr == old {
			return fmt.Errorf("the sentinels still report %s", old)
		}
		role, err := info(addr, "replication")
		if err != nil {
			return err
		}
		if role["role"] != "master" {
			return fmt.Errorf("%s is still a %s", addr, role["role"])
		}
		s.mu.Lock()
		s.master = addr
		s.mu.Unlock()
		return nil
	})
}

// agreedMaster is the master's address if every sentinel reports the
// same.
func (s *RedisSentinel) agreedMaster() (string, error) {
	var agreed string
	for _, p := range s.sentinels {
		reply, err := redisCommand(p.addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMasterName)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.name, err)
		}
		hp, _ := reply.([]any)
		if len(hp) != 2 {
			return "", fmt.Errorf("%s knows no master %s", p.name, SentinelMasterName)
		}
		host, _ := hp[0].(string)
		port, _ := hp[1].(string)
		addr := net.JoinHostPort(host, port)
		if agreed != "" && addr != agreed {
			return "", fmt.Errorf("sentinels disagree on the master: %s and %s", agreed, addr)
		}
		agreed = addr
	}
	return agreed, nil
}

// ready returns why the group is not ready yet: a sentinel that does not
// know the master, the other sentinels or a replica in sync.
func (s *RedisSentinel) ready() error {
	master, err := s.agreedMaster()
	if err != nil {
		return err
	}
	if master != s.MasterAddr() {
		return fmt.Errorf("the sentinels report %s as master, not %s", master, s.MasterAddr())
	}
	for _, p := range s.sentinels {
		reply, err := redisCommand(p.addr(), "SENTINEL", "MASTER", SentinelMasterName)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if m := fields(reply); m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
			return fmt.Errorf("%s knows %s other sentinels and %s replicas", p.name, m["num-other-sentinels"], m["num-slaves"])
		}
		reply, err = redisCommand(p.addr(), "SENTINEL", "REPLICAS", SentinelMasterName)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		replicas, _ := reply.([]any)
		if len(replicas) != 1 {
			return fmt.Errorf("%s lists %d replicas", p.name, len(replicas))
		}
		if r := fields(replicas[0]); r["flags"] != "slave" || r["master-link-status"] != "ok" {
			return fmt.Errorf("%s sees the replica with flags %q and link %q", p.name, r["flags"], r["master-link-status"])
		}
	}
	return nil
}

// await polls check, for up to 30 seconds, until it returns nil.
func (s *RedisSentinel) await(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the servers: no event to wait on
	}
}

// StopReplica kills the replica with SIGKILL, as a crash would, and waits
// for it to exit; the master keeps its role. StartReplica brings it back.
func (s *RedisSentinel) StopReplica(t *testing.T) {
	t.Helper()
	if err := s.replica().kill(); err != nil {
		t.Fatal(err)
	}
}

// StartReplica starts the replica stopped by StopReplica again, empty, as
// a replica of the current master, and waits until it is in sync.
func (s *RedisSentinel) StartReplica(t *testing.T) {
	t.Helper()
	p := s.replica()
	host, port, _ := net.SplitHostPort(s.MasterAddr())
	args := slices.Clone(p.args)
	if i := slices.Index(args, "--replicaof"); i >= 0 {
		args = slices.Delete(args, i, i+3) // whom it followed at its last start
	}
	p.args = append(args, "--replicaof", host, port)
	if err := p.start(); err != nil {
		t.Fatalf("restarting the replica: %v", err)
	}
	s.AwaitReplica(t)
}

// AwaitReplica waits until the master has its replica online, in sync, as
// both servers report: after a Failover, until the sentinels have turned
// the old master into a replica of the new one. The sentinels themselves
// may take up to ten seconds more to hear of it.
func (s *RedisSentinel) AwaitReplica(t *testing.T) {
	t.Helper()
	s.await(t, "the master to have a replica in sync", func() error {
		master, replica := s.MasterAddr(), s.ReplicaAddr()
		repl, err := info(replica, "replication")
		if err != nil {
			return err
		}
		following := net.JoinHostPort(repl["master_host"], repl["master_port"])
		if repl["role"] != "slave" || following != master || repl["master_link_status"] != "up" {
			return fmt.Errorf("the replica reports role %s of %s, link %s", repl["role"], following, repl["master_link_status"])
		}
		repl, err = info(master, "replication")
		if err != nil {
			return err
		}
		host, port, _ := net.SplitHostPort(replica)
		if !strings.Contains(repl["slave0"], "ip="+host+",port="+port+",state=online,") {
			return fmt.Errorf("the master reports its replica as %q", repl["slave0"])
		}
		return nil
	})
}

// replica is the server that is not the master.
func (s *RedisSentinel) replica() *redisProcess {
	master := s.MasterAddr()
	for _, p := range s.servers {
		if p.addr() != master {
			return p
		}
	}
	panic("the sentinel group has no replica")
}
