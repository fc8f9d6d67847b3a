package redis_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// listingSentinel is a fakeSentinel whose SENTINEL SENTINELS names others,
// as a real sentinel names the rest of its group (go-redis adds them to
// the sentinels it may take for its own).
type listingSentinel struct {
	*fakeSentinel
	others []string
}

func (s *listingSentinel) serve(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) {
		r := bufio.NewReader(conn)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			reply := s.reply(args)
			if len(args) > 1 && strings.EqualFold(args[0], "SENTINEL") && strings.EqualFold(args[1], "SENTINELS") {
				reply = ""
				for _, o := range s.others {
					host, port, _ := net.SplitHostPort(o)
					reply += respArray("name", o, "ip", host, "port", port, "flags", "sentinel")
				}
				reply = "*" + strconv.Itoa(len(s.others)) + "\r\n" + reply
			}
			if _, err := io.WriteString(conn, reply); err != nil {
				return
			}
		}
	})
}

// The URL names one sentinel of a group (U); go-redis, once U fails it a
// moment, takes another it discovered (H) for its own, as go-redis does.
// H leads a failback B -> A at epoch 3 and tells go-redis; U, up and
// answering every poll, has not heard of it yet. The dial of A, the new
// master, must not be sent to B, which configuration 3 replaced: every
// sentinel the client asks naming B is no proof that go-redis's is behind.
func TestSentinelClientSendsNoDialOfAFailbackOnlyADiscoveredSentinelSawToTheOld(t *testing.T) {
	t.Parallel()
	a, b := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	h := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	h.set(a.Addr(), 1, b.Addr())
	hAddr := h.serve(t)
	u := &listingSentinel{fakeSentinel: &fakeSentinel{}, others: []string{hAddr}}
	u.set(a.Addr(), 1, b.Addr())
	client := newClientAt(t, "redis+sentinel://"+u.serve(t)+"?master_name=fake")
	if lost, _ := writesNotOn(t, client, a.Addr(), "first", 5); lost > 0 {
		t.Fatalf("%d writes missed A", lost)
	}
	// First failover, A -> B at epoch 2, which every sentinel knows.
	u.set(b.Addr(), 2, a.Addr())
	h.set(b.Addr(), 2, a.Addr())
	time.Sleep(time.Second)
	if lost, ack := writesNotOn(t, client, b.Addr(), "second", 5); lost > 0 || ack == 0 {
		t.Fatalf("%d of %d writes missed B", lost, ack)
	}
	// U fails go-redis's GET-MASTER-ADDR-BY-NAME a moment (a restart, a
	// dropped connection): go-redis's next dial takes H for its own.
	u.mu.Lock()
	u.refused = true
	u.mu.Unlock()
	killClients(t, b.Addr())
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Logf("ping while go-redis changes sentinel: %v", err)
	}
	u.mu.Lock()
	u.refused = false
	u.mu.Unlock()
	h.mu.Lock()
	subs := len(h.subs)
	h.mu.Unlock()
	if subs == 0 {
		t.Fatal("go-redis did not take H for its sentinel")
	}
	// Failback B -> A at epoch 3, led by H; U is not told yet.
	h.set(a.Addr(), 3, b.Addr())
	if n := h.publish("+switch-master", "fake "+hostPortOf(b.Addr())+" "+hostPortOf(a.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to H")
	}
	time.Sleep(20 * time.Millisecond)
	lost, acknowledged := writesNotOn(t, client, a.Addr(), "failback", 20)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to B, which configuration 3 replaced by A (go-redis dialled A; the URL's one sentinel, answering, had not heard yet)",
			lost, acknowledged)
	}
}

func killClients(t *testing.T, addr string) {
	t.Helper()
	admin := goredis.NewClient(&goredis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
}
