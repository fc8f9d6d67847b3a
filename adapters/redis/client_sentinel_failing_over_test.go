package redis_test

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// flaggedSentinel is a fakeSentinel whose SENTINEL MASTER reply carries
// flags of its own (as "master,failover_in_progress").
type flaggedSentinel struct {
	*fakeSentinel
	flags string
}

func (s *flaggedSentinel) serve(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) {
		r := bufio.NewReader(conn)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			reply := s.reply(args)
			if len(args) > 2 && strings.EqualFold(args[0], "SENTINEL") && strings.EqualFold(args[1], "MASTER") {
				s.mu.Lock()
				host, port, _ := net.SplitHostPort(s.master)
				flags := s.flags
				if flags == "" {
					flags = "master"
				}
				reply = respArray("name", args[2], "ip", host, "port", port, "flags", flags, "config-epoch", strconv.Itoa(s.epoch))
				s.mu.Unlock()
			}
			if _, err := io.WriteString(conn, reply); err != nil {
				return
			}
		}
	})
}

// One sentinel of the URL, cut off from the others, is stuck in a
// failover attempt of its own (failover_in_progress, kept up to
// failover-timeout, 3 minutes by default) and names the old master at the
// old epoch; the others have since failed the master over to B at a newer
// epoch. Its flag is about a configuration the newest has replaced, and
// must not keep the client from learning the newest: go-redis, whose own
// sentinel is the stuck one, would go on writing to A. Without the flag
// this is TestSentinelClientDialsNoMasterThePollHasSeenReplaced.
func TestSentinelClientLearnsPastAStaleSentinelFailingOver(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	own := &flaggedSentinel{fakeSentinel: &fakeSentinel{}}
	own.set(oldMaster.Addr(), 1, newMaster.Addr())
	newest := &fakeSentinel{refused: true}
	newest.set(oldMaster.Addr(), 1, newMaster.Addr())
	client := newClientAt(t, "redis+sentinel://"+own.serve(t)+"?addr="+newest.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	own.mu.Lock()
	own.flags = "master,failover_in_progress"
	own.mu.Unlock()
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	time.Sleep(time.Second) // several polls
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to the old master %s, which a sentinel names replaced by %s at a newer epoch",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}
