package redis

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Over TLS, a sentinel that accepts connections but never answers holds a
// dial no longer than go-redis's dial timeout: tls.DialWithDialer heeds no
// context, and a dialer made with the URL's timeout left at 0 had none.
// Not parallel, for goleak.
func TestSentinelDialOverTLSEndsAtTheDialTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	before := goleak.IgnoreCurrent()

	u, err := url.Parse("rediss+sentinel://" + l.Addr().String() + "?master_name=m")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := parseSentinelURL(u)
	if err != nil {
		t.Fatal(err)
	}
	// As newSentinelClient makes it, less the PING that needs a master.
	f := startFailoverClient(opts)

	time.Sleep(2 * sentinelPoll) // a poll has dialled
	_ = f.Close()
	time.Sleep(defaultDialTimeout + time.Second)
	if err := goleak.Find(before); err != nil {
		t.Errorf("%v after Close, a dial to a silent sentinel over TLS is still under way: %v", defaultDialTimeout+time.Second, err)
	}
}
