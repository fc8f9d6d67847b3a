package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// On Sentinel, writes follow the master the sentinels agree on within
// about a poll, even when the client missed the +switch-master message
// (its sentinel was cut off while the failover happened): they no longer
// go on to the old master until the sentinels demote it, some ten seconds
// later, to be lost then. With the client cache on or off.
func TestSentinelClientWritesFollowTheMasterWithoutTheSwitchMessage(t *testing.T) {
	t.Parallel()
	for _, withCache := range []bool{false, true} {
		t.Run(map[bool]string{false: "client cache off", true: "client cache on"}[withCache], func(t *testing.T) {
			t.Parallel()
			group := integration.StartRedisSentinel(t)
			proxy := newCutProxy(t, group.SentinelAddrs()[0])
			ctx := context.Background()
			client := newClientAt(t, "redis+sentinel://"+proxy.addr()+"?master_name="+integration.SentinelMasterName)
			if withCache {
				cache, err := redis.NewClientCache(ctx, client, redis.ClientCacheConfig{}, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatalf("NewClientCache: %v", err)
				}
				t.Cleanup(cache.Close)
			}
			if err := client.Set(ctx, "token:follow-before", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			oldMaster := group.MasterAddr()
			proxy.cut()
			group.Failover(t) // all three sentinels now report the new master
			proxy.restore()
			newMaster := goredis.NewClient(&goredis.Options{Addr: group.MasterAddr()})
			t.Cleanup(func() { _ = newMaster.Close() })

			agreed := time.Now()
			var onOld []string
			var lastOnOld time.Duration // of the writes in the first second, for the log
			for i := 0; time.Since(agreed) < 15*time.Second; i++ {
				time.Sleep(100 * time.Millisecond) // one write every 100 ms, as traffic would
				key := fmt.Sprintf("token:follow-%d", i)
				if err := client.Set(ctx, key, "x", 0).Err(); err != nil {
					continue
				}
				since := time.Since(agreed)
				if err := newMaster.Get(ctx, key).Err(); !errors.Is(err, goredis.Nil) {
					if since >= time.Second {
						break
					}
					continue
				}
				if since < time.Second {
					lastOnOld = since
					continue
				}
				onOld = append(onOld, key)
			}
			took := time.Since(agreed)
			if len(onOld) == 0 {
				if lastOnOld == 0 {
					t.Log("no write went to the old master once the sentinels agreed on the new one")
				} else {
					t.Logf("the last write that went to the old master went %v after the sentinels agreed on the new one", lastOnOld.Round(10*time.Millisecond))
				}
				return
			}
			group.AwaitReplica(t)
			var lost int
			for _, key := range onOld {
				if err := newMaster.Get(ctx, key).Err(); errors.Is(err, goredis.Nil) {
					lost++
				}
			}
			t.Errorf("for %v after the sentinels agreed on the new master %s, writes still went to the old master %s: %d writes acknowledged 1 s or more after the failover went there, %d of them lost once it was demoted",
				took.Round(100*time.Millisecond), group.MasterAddr(), oldMaster, len(onOld), lost)
		})
	}
}

// cutProxy forwards TCP connections to a target until cut: then it closes
// every connection and refuses new ones until restored.
type cutProxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// newCutProxy starts a proxy to target on a loopback port; it stops when t
// ends.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { _ = l.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close(); _ = c.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = s.Close(); _ = c.Close() }()
	}
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

// cut closes every connection and refuses new ones until restore.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
