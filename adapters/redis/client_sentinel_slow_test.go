package redis_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// slowSentinel is a fakeSentinel that holds each answer to SENTINEL MASTER
// for delay: a sentinel on a slow path, which a poll's question (bounded
// at half a second) never hears from but a client cache's dial, bounded at
// two seconds, does.
type slowSentinel struct {
	*fakeSentinel
	delay atomic.Int64 // nanoseconds
	// once: after the first delayed answer delivered, the sentinel is cut
	// off (silent).
	once bool
}

func (s *slowSentinel) serve(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, s.answer)
}

func (s *slowSentinel) answer(conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		delayed := len(args) > 1 && strings.EqualFold(args[0], "SENTINEL") && strings.EqualFold(args[1], "MASTER") && s.delay.Load() > 0
		if delayed {
			time.Sleep(time.Duration(s.delay.Load()))
			if s.once && peerGone(conn) {
				return // the question timed out and its connection closed
			}
		}
		if _, err := io.WriteString(conn, s.reply(args)); err != nil {
			return
		}
		if delayed && s.once {
			s.mu.Lock()
			s.silent = true
			s.mu.Unlock()
		}
	}
}

// slowAnswer is how long a slowSentinel takes: past a poll's question,
// within a client cache's dial's.
const slowAnswer = time.Second

// peerGone reports whether the client closed conn: the client sends
// nothing while it waits for an answer, so a read finds EOF or times out.
func peerGone(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	defer conn.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := conn.Read(b[:])
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// failoverToASlowSentinel starts two servers and a client of two
// sentinels that name the first master at epoch 1, go-redis's own being
// the stale one (the newest refuses get-master-addr-by-name). It checks
// that writes land on the first, then fails over: the newest sentinel
// names the second master at epoch 2, but answers SENTINEL MASTER only
// after a second, past every poll's question, and only once, then is cut
// off; the stale one names the second a replica of the first. It returns
// once the polls have heard the stale sentinel alone for a second.
func failoverToASlowSentinel(t *testing.T) (client goredis.UniversalClient, oldMaster, newMaster *integration.RedisServer, newest *slowSentinel) {
	t.Helper()
	oldMaster, newMaster = integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	stale := &fakeSentinel{}
	stale.set(oldMaster.Addr(), 1)
	newest = &slowSentinel{fakeSentinel: &fakeSentinel{refused: true}, once: true}
	newest.set(oldMaster.Addr(), 1)
	client = newClientAt(t, "redis+sentinel://"+stale.serve(t)+"?addr="+newest.serve(t)+"&master_name=fake")
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	stale.set(oldMaster.Addr(), 1, newMaster.Addr())
	newest.delay.Store(int64(slowAnswer))
	time.Sleep(time.Second)
	return client, oldMaster, newMaster, newest
}

// A client cache's dial asks the sentinels a question that outlasts the
// polls' questions. When the newest sentinel answers only that one (it is
// slow, then cut off), the polls begun meanwhile are answered by a
// sentinel that has not heard of the failover. The dial's answer, the
// newest configuration, must be learnt though it was asked first: it
// raises the epoch floor, so that every poll's answer after it is refused
// as older, and the master learnt must be its own, or every write would go
// on to the old master, which go-redis's own sentinel names. With the
// newest cut off, nothing can confirm that go-redis's sentinel is behind
// rather than ahead (a failback), so its dials fail: no write reaches the
// old master.
func TestSentinelClientWritesToTheMasterOfTheEpochItTook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oldMaster, newMaster := integration.StartRedisServer(t, false), integration.StartRedisServer(t, false)
	stale := &fakeSentinel{} // go-redis's own: the newest refuses get-master-addr-by-name
	stale.set(oldMaster.Addr(), 1)
	newest := &slowSentinel{fakeSentinel: &fakeSentinel{refused: true}, once: true}
	newest.set(oldMaster.Addr(), 1)
	client := newClientAt(t, "redis+sentinel://"+stale.serve(t)+"?addr="+newest.serve(t)+"&master_name=fake")
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	defer cache.Close()
	if lost, _ := writesNotOn(t, client, oldMaster.Addr(), "before", 5); lost > 0 {
		t.Fatalf("%d writes missed the one master", lost)
	}
	newest.set(newMaster.Addr(), 2, oldMaster.Addr())
	stale.set(oldMaster.Addr(), 1, newMaster.Addr())
	newest.delay.Store(int64(slowAnswer))
	time.Sleep(time.Second) // polls hear the stale sentinel alone

	// The link breaks (a network glitch): the cache's dial asks the
	// sentinels and waits for the newest.
	admin := goredis.NewClient(&goredis.Options{Addr: oldMaster.Addr()})
	defer admin.Close()
	if err := admin.ClientKillByFilter(ctx, "ID", strconv.FormatInt(cache.LinkID(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	awaitAnswered(t, newest)
	time.Sleep(2 * time.Second) // many polls, each refused as older than epoch 2
	if epoch, master := redis.SentinelView(client); epoch != 2 || master != newMaster.Addr() {
		t.Errorf("the client has taken epoch %d, and its dialer's master is %s; want epoch 2 and %s", epoch, master, newMaster.Addr())
	}
	if lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20); lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to %s, although the client has taken configuration epoch 2, which names %s master",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}

// awaitAnswered waits until the newest sentinel has delivered its one
// delayed answer (to the cache's dial) and been cut off.
func awaitAnswered(t *testing.T, newest *slowSentinel) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		newest.mu.Lock()
		answered := newest.silent
		newest.mu.Unlock()
		if answered {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the newest sentinel was never heard by the cache's dial")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The same race with a client cache made during the failover: its dial's
// answer, the newest configuration, names the new master. Had masterConns
// kept the later polls' older answer, which names it a replica, the dialer
// would send the link to the old master, where go-redis's pool is too, and
// the cache, taking its link to be on the address it asked for, would keep
// what it reads there.
func TestSentinelClientCacheLinksToTheMasterItDialled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, oldMaster, newMaster, _ := failoverToASlowSentinel(t)
	cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewClientCache: %v", err)
	}
	defer cache.Close()
	admin := goredis.NewClient(&goredis.Options{Addr: oldMaster.Addr()})
	defer admin.Close()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	epoch, master := redis.SentinelView(client)
	if strings.Contains(list, "name=tokencache-invalidations") {
		t.Errorf("the cache's link (linked: %v) is on the old master %s; the client has taken epoch %d, whose master is %s, and its dialer's master is %s",
			cache.Stats().Linked, oldMaster.Addr(), epoch, newMaster.Addr(), master)
	}
	time.Sleep(2 * time.Second) // many polls, each refused as older than epoch 2
	if lost, acknowledged := writesNotOn(t, client, newMaster.Addr(), "after", 20); lost > 0 {
		t.Errorf("%d of %d acknowledged writes went to %s, although the client has taken configuration epoch 2, which names %s master",
			lost, acknowledged, oldMaster.Addr(), newMaster.Addr())
	}
}
