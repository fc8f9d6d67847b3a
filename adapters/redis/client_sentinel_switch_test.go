package redis_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// publishingSentinel is a fakeSentinel that also publishes to the
// connections that subscribed, as a sentinel sends +switch-master.
type publishingSentinel struct {
	*fakeSentinel
	mu    sync.Mutex
	subs  []*lockedConn
	asked chan struct{} // when set, sent to (without blocking) after each SENTINEL REPLICAS reply
}

type lockedConn struct {
	mu sync.Mutex
	net.Conn
}

func (c *lockedConn) write(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.Conn, s)
	return err
}

func (s *publishingSentinel) serve(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, s.answer)
}

func (s *publishingSentinel) answer(conn net.Conn) {
	lc := &lockedConn{Conn: conn}
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		reply := s.reply(args)
		if strings.EqualFold(args[0], "SUBSCRIBE") {
			// One confirmation per channel.
			reply = ""
			for i, ch := range args[1:] {
				reply += fmt.Sprintf("*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n", len(ch), ch, i+1)
			}
			s.mu.Lock()
			s.subs = append(s.subs, lc)
			s.mu.Unlock()
		}
		if err := lc.write(reply); err != nil {
			return
		}
		if len(args) > 1 && strings.EqualFold(args[0], "SENTINEL") && strings.EqualFold(args[1], "REPLICAS") {
			s.mu.Lock()
			asked := s.asked
			s.mu.Unlock()
			if asked != nil {
				select {
				case asked <- struct{}{}:
				default:
				}
			}
		}
	}
}

// publish sends message on channel to every subscriber; it returns how
// many got it.
func (s *publishingSentinel) publish(channel, message string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.subs {
		if c.write(respArray("message", channel, message)) == nil {
			n++
		}
	}
	return n
}

func hostPortOf(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return host + " " + port
}

// A failover seen by go-redis's own sentinel (the newest), while the
// poll's question to it fails and the only answer the poll gets is from a
// sentinel not yet told of the failover, of the epoch the poll took
// before: go-redis moves to the new master, which that answer names a
// replica. The client cannot tell which is right: its writes may fail,
// but none may go to the old master.
func TestSentinelClientSendsNoDialOfTheNewMasterToTheOld(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	newest := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	newest.set(oldMaster.Addr(), 1, newMaster.Addr())
	stale := &fakeSentinel{refused: true} // go-redis takes the newest for its own
	stale.set(oldMaster.Addr(), 1, newMaster.Addr())
	client := newClientAt(t, "redis+sentinel://"+newest.serve(t)+"?addr="+stale.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}

	// The newest sentinel fails the old master over; its answers to the
	// poll's SENTINEL MASTER fail (a broken or timed-out connection).
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	newest.fakeSentinel.mu.Lock()
	newest.silent = true
	newest.fakeSentinel.mu.Unlock()
	if n := newest.publish("+switch-master", "fake "+hostPortOf(oldMaster.Addr())+" "+hostPortOf(newMaster.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(time.Second) // several polls
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to the old master %s, after go-redis's sentinel switched to %s",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}

// An ordinary failover, every sentinel answering: go-redis hears
// +switch-master and dials the new master at once, before the next poll,
// whose last answer named the old master master and the new one its
// replica. The writes must go to the new master (a dial refused makes the
// polls ask at once). The failover here comes just after a poll, as it
// may any time.
func TestSentinelClientWritesFollowGoRedisBeforeThePollDoes(t *testing.T) {
	t.Parallel()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	newest := &publishingSentinel{fakeSentinel: &fakeSentinel{}}
	newest.set(oldMaster.Addr(), 1, newMaster.Addr())
	client := newClientAt(t, "redis+sentinel://"+newest.serve(t)+"?master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	asked := make(chan struct{}, 1)
	newest.mu.Lock()
	newest.asked = asked
	newest.mu.Unlock()
	<-asked // drain one that may be stale
	<-asked // a poll has just been answered
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	if n := newest.publish("+switch-master", "fake "+hostPortOf(oldMaster.Addr())+" "+hostPortOf(newMaster.Addr())); n == 0 {
		t.Fatal("go-redis has not subscribed to its sentinel")
	}
	time.Sleep(20 * time.Millisecond) // go-redis reads the message
	lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 8)
	if lost > 0 || acknowledged == 0 {
		t.Errorf("%d of %d acknowledged writes went to the old master %s after go-redis switched to %s",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}
