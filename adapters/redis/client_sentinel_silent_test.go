package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/integration"
)

// writesToTheOldMaster writes through client every 100 ms for 5 s from
// now, the sentinels having just agreed on a new master, and counts the
// writes acknowledged 2 s or more from now that the new master lacks:
// they went to the old one, which loses them when it is demoted. A write
// that fails is not counted: an error is no lost write.
func writesToTheOldMaster(t *testing.T, client goredis.UniversalClient, group *integration.RedisSentinel, prefix string) int {
	t.Helper()
	ctx := context.Background()
	newMaster := goredis.NewClient(&goredis.Options{Addr: group.MasterAddr()})
	defer newMaster.Close()
	agreed := time.Now()
	onOld := 0
	for i := 0; time.Since(agreed) < 5*time.Second; i++ {
		time.Sleep(100 * time.Millisecond)
		key := fmt.Sprintf("token:%s-%d", prefix, i)
		if err := client.Set(ctx, key, "x", 0).Err(); err != nil {
			continue
		}
		if err := newMaster.Get(ctx, key).Err(); errors.Is(err, goredis.Nil) && time.Since(agreed) >= 2*time.Second {
			onOld++
		}
	}
	return onOld
}

// A sentinel of the URL that does not answer (its host down, packets
// dropped) must not keep the client's connections on the old master: the
// poll waits for it as long as it may, and the pool must still move.
// go-redis's own sentinel, cut during the failover so that its message is
// missed, is back.
func TestSentinelClientFollowsWithASilentSentinel(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	proxy := newCutProxy(t, group.SentinelAddrs()[0])
	silent := serveLoopback(t, func(net.Conn) {}) // accepts, never answers
	client := newClientAt(t, "redis+sentinel://"+proxy.addr()+"?addr="+silent+"&master_name="+integration.SentinelMasterName)
	if err := client.Set(context.Background(), "token:silent-before", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	oldMaster := group.MasterAddr()
	proxy.cut()
	group.Failover(t)
	proxy.restore()
	if n := writesToTheOldMaster(t, client, group, "silent"); n > 0 {
		t.Errorf("with one of two sentinels silent, %d writes made 2-5 s after the sentinels agreed on %s still went to the old master %s",
			n, group.MasterAddr(), oldMaster)
	}
}

// The same when the silent sentinel is go-redis's own: its host stops
// answering during the failover, so its message is missed, and stays
// silent, which keeps go-redis from dialling anew for some seconds. The
// URL's other sentinel names the new master: the connections to the old
// one must close, so that writes fail rather than go there.
func TestSentinelClientFollowsWhenItsOwnSentinelFallsSilent(t *testing.T) {
	t.Parallel()
	group := integration.StartRedisSentinel(t)
	own := newStallProxy(t, group.SentinelAddrs()[0])
	other := newCutProxy(t, group.SentinelAddrs()[1])
	other.cut() // so that go-redis takes the first for its own
	client := newClientAt(t, "redis+sentinel://"+own.addr()+"?addr="+other.addr()+"&master_name="+integration.SentinelMasterName)
	if err := client.Set(context.Background(), "token:stall-before", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	other.restore()
	oldMaster := group.MasterAddr()
	own.stall()
	group.Failover(t)
	if n := writesToTheOldMaster(t, client, group, "stall"); n > 0 {
		t.Errorf("with go-redis's own sentinel silent, %d writes made 2-5 s after the sentinels agreed on %s still went to the old master %s",
			n, group.MasterAddr(), oldMaster)
	}
}

// stallProxy forwards to target until stalled; then it forwards nothing,
// on old or new connections, and closes none, as a host that drops every
// packet.
type stallProxy struct {
	l       net.Listener
	target  string
	stalled chan struct{}
	once    sync.Once
	mu      sync.Mutex
	conns   []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{l: l, target: target, stalled: make(chan struct{})}
	t.Cleanup(func() {
		_ = l.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	go p.serve()
	return p
}

func (p *stallProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		select {
		case <-p.stalled:
			continue // held open, never answered
		default:
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, s)
		p.mu.Unlock()
		go p.forward(s, c)
		go p.forward(c, s)
	}
}

func (p *stallProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-p.stalled:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *stallProxy) addr() string { return p.l.Addr().String() }

func (p *stallProxy) stall() { p.once.Do(func() { close(p.stalled) }) }
