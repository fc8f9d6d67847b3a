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
// name, tells conns each answer, and dials the master.
type sentinelWatch struct {
	name      string
	addrs     []string // the sentinels', from the URL
	sentinels []*goredis.SentinelClient
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	conns     *masterConns
}

// newSentinelWatch asks the sentinels of fo, with their credentials and
// the timeouts of master (the failover client's options), tells conns
// what they answer, and dials with fo's dialer, conns', which must be set.
func newSentinelWatch(fo *goredis.FailoverOptions, master *goredis.Options, conns *masterConns) *sentinelWatch {
	w := &sentinelWatch{name: fo.MasterName, addrs: fo.SentinelAddrs, dial: fo.Dialer, conns: conns}
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
// failover the others may still report the old master for a moment, or for
// as long as they are cut off from the rest. It fails if none answers, if
// one is failing over the master of the newest configuration answered, or
// if the newest answer is of an older configuration than one seen before
// (see epochFloor). A sentinel failing over a master that a newer
// configuration has replaced (one cut off from the others keeps trying
// for its failover-timeout) is behind, as any other answer of an older
// configuration is. w.conns learns
// the master and the replicas that sentinel names (see masterConns.learn).
func (w *sentinelWatch) master(ctx context.Context) (string, error) {
	question := w.conns.ask()
	type answer struct {
		addr     string
		replicas []string
		epoch    int64
		err      error
		failing  bool // a failover of the master is under way
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
			addr := net.JoinHostPort(m["ip"], m["port"])
			if strings.Contains(m["flags"], "failover_in_progress") {
				// The replica may take writes any moment now, unseen by a
				// link on the old master.
				answers <- answer{addr: addr, epoch: epoch, failing: true,
					err: fmt.Errorf("sentinel %s is failing master %q over", w.addrs[i], w.name)}
				return
			}
			replicas, err := s.Replicas(ctx, w.name).Result()
			if err != nil {
				answers <- answer{err: fmt.Errorf("sentinel %s: replicas: %w", w.addrs[i], err)}
				return
			}
			a := answer{addr: addr, epoch: epoch}
			for _, r := range replicas {
				if r["ip"] != "" && r["port"] != "" {
					a.replicas = append(a.replicas, net.JoinHostPort(r["ip"], r["port"]))
				}
			}
			answers <- a
		}()
	}
	best := answer{epoch: -1}
	named := make(map[string]int64) // every master an answer named, at its epoch
	var errs []error
	failing := answer{epoch: -1} // the newest configuration being failed over
	for range w.sentinels {
		a := <-answers
		if a.err != nil && !a.failing {
			errs = append(errs, a.err)
			continue
		}
		if e, ok := named[a.addr]; !ok || a.epoch > e {
			named[a.addr] = a.epoch
		}
		switch {
		case a.failing && a.epoch > failing.epoch:
			failing = a
		case !a.failing && a.epoch > best.epoch:
			best = a
		}
	}
	switch {
	case failing.err != nil && failing.epoch >= best.epoch:
		return "", failing.err
	case best.addr == "":
		return "", fmt.Errorf("no sentinel reported master %q: %w", w.name, errors.Join(errs...))
	}
	view := sentinelView{master: best.addr, replicas: best.replicas, epoch: best.epoch, named: named, everyOne: len(errs) == 0}
	if newest, ok := w.conns.learn(question, view, time.Now()); !ok {
		return "", fmt.Errorf("the sentinels that answered name master %q at %s, of configuration epoch %d, older than the %d seen before: they have not heard of a failover",
			w.name, best.addr, best.epoch, newest)
	}
	return best.addr, nil
}

// epochRollback is how long every sentinel of a Sentinel client's URL
// must answer with an older configuration than one seen before for the
// client to take it: sentinels that lost their configuration (restarted
// afresh) begin again at epoch 0.
const epochRollback = 10 * sentinelPoll

// epochFloor keeps the sentinels' answers from going back to an older
// configuration: after a failover a sentinel that has not heard of it yet,
// or is cut off from the others, names the old master at the older epoch,
// and may be the only one to answer a question. Such answers are refused
// unless every sentinel has given one, at every question, for
// epochRollback running.
type epochFloor struct {
	epoch      int64     // the newest configuration taken
	olderSince time.Time // since when every sentinel has answered older; zero if not
}

// admit reports whether an answer of configuration epoch, the newest of
// the sentinels' at now (of all of them, if every one answered), is taken,
// and the newest epoch taken before. Its caller serialises the calls
// (masterConns.learn).
func (f *epochFloor) admit(epoch int64, everyOne bool, now time.Time) (newest int64, ok bool) {
	newest = f.epoch
	switch {
	case epoch >= f.epoch:
	case !everyOne:
		// A sentinel that did not answer may be the one that knows of
		// the failover.
		f.olderSince = time.Time{}
		return newest, false
	case f.olderSince.IsZero():
		f.olderSince = now
		return newest, false
	case now.Sub(f.olderSince) < epochRollback:
		return newest, false
	}
	f.epoch, f.olderSince = epoch, time.Time{}
	return newest, true
}

func (w *sentinelWatch) close() {
	for _, s := range w.sentinels {
		_ = s.Close()
	}
}
