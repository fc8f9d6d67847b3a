package redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// fakeSentinel answers as a sentinel of one master, the one it is told,
// as a sentinel cut off from the others goes on naming the master it
// last knew. It speaks RESP2 (HELLO is refused) and answers PING, CLIENT,
// SUBSCRIBE and SENTINEL's get-master-addr-by-name (unless refused, so
// that go-redis takes another sentinel for its own), master, replicas and
// sentinels.
type fakeSentinel struct {
	mu       sync.Mutex
	master   string
	epoch    int
	replicas []string
	refused  bool // get-master-addr-by-name fails
	noList   bool // replicas fails
	silent   bool // master fails, as for a poll whose connection broke
}

// set makes s name master, at epoch, with replicas.
func (s *fakeSentinel) set(master string, epoch int, replicas ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.master, s.epoch, s.replicas = master, epoch, replicas
}

// serve listens on a loopback port until t ends and returns the address.
func (s *fakeSentinel) serve(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, s.answer)
}

func (s *fakeSentinel) answer(conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		if _, err := io.WriteString(conn, s.reply(args)); err != nil {
			return
		}
	}
}

func (s *fakeSentinel) reply(args []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	hostPort := func(addr string) (string, string) {
		host, port, _ := net.SplitHostPort(addr)
		return host, port
	}
	command := strings.ToUpper(args[0])
	if command == "SENTINEL" && len(args) > 1 {
		command += " " + strings.ToUpper(args[1])
	}
	switch command {
	case "PING":
		return "+PONG\r\n"
	case "CLIENT":
		return "+OK\r\n"
	case "SUBSCRIBE":
		return fmt.Sprintf("*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n", len(args[1]), args[1])
	case "SENTINEL GET-MASTER-ADDR-BY-NAME":
		if s.refused {
			return "-ERR not this one\r\n"
		}
		host, port := hostPort(s.master)
		return respArray(host, port)
	case "SENTINEL MASTER":
		if s.silent {
			return "-ERR not now\r\n"
		}
		host, port := hostPort(s.master)
		return respArray("name", args[2], "ip", host, "port", port, "flags", "master", "config-epoch", strconv.Itoa(s.epoch))
	case "SENTINEL REPLICAS", "SENTINEL SLAVES":
		if s.noList {
			return "-NOPERM this user has no permissions to run the 'sentinel|replicas' command\r\n"
		}
		out := fmt.Sprintf("*%d\r\n", len(s.replicas))
		for _, replica := range s.replicas {
			host, port := hostPort(replica)
			out += respArray("name", replica, "ip", host, "port", port, "flags", "slave")
		}
		return out
	case "SENTINEL SENTINELS":
		return "*0\r\n"
	}
	return "-ERR unknown command '" + args[0] + "'\r\n"
}

func respArray(items ...string) string {
	out := fmt.Sprintf("*%d\r\n", len(items))
	for _, item := range items {
		out += fmt.Sprintf("$%d\r\n%s\r\n", len(item), item)
	}
	return out
}

// writesNotOn writes n keys through client, and returns how many of those
// acknowledged the master at addr lacks: they went elsewhere.
func writesNotOn(t *testing.T, client goredis.UniversalClient, addr, prefix string, n int) (lost, acknowledged int) {
	t.Helper()
	ctx := context.Background()
	master := goredis.NewClient(&goredis.Options{Addr: addr})
	defer master.Close()
	for i := range n {
		key := fmt.Sprintf("token:%s-%d", prefix, i)
		if err := client.Set(ctx, key, "x", 0).Err(); err != nil {
			continue
		}
		acknowledged++
		if err := master.Get(ctx, key).Err(); errors.Is(err, goredis.Nil) {
			lost++
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lost, acknowledged
}

// go-redis dials the master its own sentinel names. A sentinel cut off
// from the others names the old master after a failover, while the newest
// configuration, which the poll reads, names the new one: the client must
// not dial the old master again once the poll has closed its connections
// there, or the writes it acknowledges are lost when the old master is
// demoted.
func TestSentinelClientDialsNoMasterThePollHasSeenReplaced(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	own := &fakeSentinel{}
	own.set(oldMaster.Addr(), 1)
	newest := &fakeSentinel{refused: true}
	newest.set(oldMaster.Addr(), 1)
	client := newClientAt(t, "redis+sentinel://"+own.serve(t)+"?addr="+newest.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	demote(t, oldMaster, newMaster)
	time.Sleep(time.Second) // several polls
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes went to the old master %s, which the poll knows was replaced by %s",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}

// A failover before the client starts: the poll never named the old
// master master, but the newest configuration names it a replica. go-redis,
// told the old master by its sentinel, must not keep a connection there.
func TestSentinelClientLeavesNoConnectionOnAMasterReplacedBeforeItStarted(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	own := &fakeSentinel{}
	own.set(oldMaster.Addr(), 1)
	newest := &fakeSentinel{refused: true}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	demote(t, oldMaster, newMaster)
	client := newClientAt(t, "redis+sentinel://"+own.serve(t)+"?addr="+newest.serve(t)+"&master_name=fake")
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "started", 20)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes went to %s, named a replica by the newest configuration", lost, acknowledged, oldMaster.Addr())
	}
	admin := goredis.NewClient(&goredis.Options{Addr: oldMaster.Addr()})
	defer admin.Close()
	time.Sleep(time.Second) // several polls
	clients, err := admin.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(clients, "connected_clients:1\r\n") {
		t.Errorf("the client keeps connections on %s, named a replica by the newest configuration:\n%s", oldMaster.Addr(), clients)
	}
}

// A sentinel that names the master but not its replicas gives no answer:
// without them, a replaced master the polls never named master would be
// taken for a server they know nothing of.
func TestSentinelMasterFailsWithoutTheReplicas(t *testing.T) {
	t.Parallel()
	s := &fakeSentinel{}
	s.set("127.0.0.1:7001", 3, "127.0.0.1:7002")
	url := "redis+sentinel://" + s.serve(t) + "?master_name=fake"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if addr, err := redis.SentinelMaster(ctx, url); err != nil || addr != "127.0.0.1:7001" {
		t.Fatalf("master %q (%v), want 127.0.0.1:7001", addr, err)
	}
	s.mu.Lock()
	s.noList = true
	s.mu.Unlock()
	addr, err := redis.SentinelMaster(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "replicas") || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("master %q (%v), want an error naming the replicas and the sentinel's refusal", addr, err)
	}
}

// The sentinel with the newest configuration fails the polls' questions
// while one that has not heard of the failover answers: the client must
// not go back to the old master, which go-redis's own sentinel, the
// newest, does not name, however long that lasts.
func TestSentinelClientDoesNotGoBackToAnOlderConfiguration(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	newest := &fakeSentinel{}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	stale := &fakeSentinel{refused: true}
	stale.set(oldMaster.Addr(), 1)
	client := newClientAt(t, "redis+sentinel://"+newest.serve(t)+"?addr="+stale.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, newMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the master", lost)
	}
	newest.mu.Lock()
	newest.silent = true
	newest.mu.Unlock()
	time.Sleep(3 * time.Second) // longer than the rollback to an older configuration
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes went to %s, named master only at an older configuration", lost, acknowledged, oldMaster.Addr())
	}
}

// Sentinels that lost their configuration (restarted afresh) all begin
// again at an older epoch: once every one has answered so for the
// rollback's time, the client follows them.
func TestSentinelClientFollowsSentinelsThatLostTheirConfiguration(t *testing.T) {
	t.Parallel()
	before, after := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	first, second := &fakeSentinel{}, &fakeSentinel{}
	first.set(before.Addr(), 7)
	second.set(before.Addr(), 7)
	client := newClientAt(t, "redis+sentinel://"+first.serve(t)+"?addr="+second.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, before.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the master", lost)
	}
	first.set(after.Addr(), 0, before.Addr())
	second.set(after.Addr(), 0, before.Addr())
	time.Sleep(4 * time.Second) // longer than the rollback
	lost, acknowledged := writesNotOn(t, client, after.Addr(), "after", 20)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes missed %s, which every sentinel has named master for 4 s", lost, acknowledged, after.Addr())
	}
}
