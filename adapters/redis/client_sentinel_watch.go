package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// sentinelPoll is how often a Sentinel client asks the sentinels which
// server is the master. It bounds how long, after they report a new one,
// the client's pool may stay on the old, should go-redis miss the
// sentinel's message, and a client cache serve copies read from the old.
const sentinelPoll = 250 * time.Millisecond

// sentinelAnswer bounds each question to the sentinels: past it, as when
// none answers, a client cache closes its link.
const sentinelAnswer = 500 * time.Millisecond

// sentinelWatch asks a Sentinel group which server is the master of one
// name, and dials it.
type sentinelWatch struct {
	name      string
	addrs     []string // the sentinels', from the URL
	sentinels []*goredis.SentinelClient
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

// newSentinelWatch asks the sentinels of fo, with their credentials and
// the timeouts of master (the failover client's options), and dials with
// fo's dialer, which must be set.
func newSentinelWatch(fo *goredis.FailoverOptions, master *goredis.Options) *sentinelWatch {
	w := &sentinelWatch{name: fo.MasterName, addrs: fo.SentinelAddrs, dial: fo.Dialer}
	for _, addr := range fo.SentinelAddrs {
		w.sentinels = append(w.sentinels, goredis.NewSentinelClient(&goredis.Options{
			Addr:     addr,
			Username: fo.SentinelUsername, Password: fo.SentinelPassword,
			TLSConfig: fo.TLSConfig, Dialer: fo.Dialer,
			DialTimeout: master.DialTimeout, ReadTimeout: master.ReadTimeout, WriteTimeout: master.WriteTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, // the next poll is the retry
			DialerRetries:         1,
			PoolSize:              1,
		}))
	}
	return w
}

// master returns the master's address as reported by the sentinel, of
// those that answer within ctx, whose configuration is the newest: after a
// failover the others may still report the old master for a moment. It
// fails if none answers, or if one is failing the master over.
func (w *sentinelWatch) master(ctx context.Context) (string, error) {
	type answer struct {
		addr    string
		epoch   int64
		err     error
		failing bool // a failover of the master is under way
	}
	answers := make(chan answer, len(w.sentinels))
	for i, s := range w.sentinels {
		go func() {
			m, err := s.Master(ctx, w.name).Result()
			if err != nil {
				answers <- answer{err: fmt.Errorf("sentinel %s: %w", w.addrs[i], err)}
				return
			}
			epoch, err := strconv.ParseInt(m["config-epoch"], 10, 64)
			if err != nil || m["ip"] == "" || m["port"] == "" {
				answers <- answer{err: fmt.Errorf("sentinel %s: master %q without address or epoch", w.addrs[i], w.name)}
				return
			}
			if strings.Contains(m["flags"], "failover_in_progress") {
				// The replica may take writes any moment now, unseen by a
				// link on the old master.
				answers <- answer{err: fmt.Errorf("sentinel %s is failing master %q over", w.addrs[i], w.name), failing: true}
				return
			}
			answers <- answer{addr: net.JoinHostPort(m["ip"], m["port"]), epoch: epoch}
		}()
	}
	best := answer{epoch: -1}
	var errs []error
	var failing error
	for range w.sentinels {
		switch a := <-answers; {
		case a.failing:
			failing = a.err
		case a.err != nil:
			errs = append(errs, a.err)
		case a.epoch > best.epoch:
			best = a
		}
	}
	switch {
	case failing != nil:
		return "", failing
	case best.addr == "":
		return "", fmt.Errorf("no sentinel reported master %q: %w", w.name, errors.Join(errs...))
	}
	return best.addr, nil
}

func (w *sentinelWatch) close() {
	for _, s := range w.sentinels {
		_ = s.Close()
	}
}
