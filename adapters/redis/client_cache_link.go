package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The invalidation link: one RESP2 connection that turns on CLIENT
// TRACKING in broadcast mode for the prefix of token keys, redirected to
// itself, and subscribes to the channel Redis sends the invalidations to.
// Broadcast mode tells it of every change to a token key, whichever client
// made it and whether or not this process read the key, so the data
// connections need no tracking of their own and the server keeps no table
// of the keys each client read.
const (
	invalidationChannel = "__redis__:invalidate"
	trackedPrefix       = "token:"

	// linkPing is how often the link is pinged, whatever else it carries,
	// and linkSilent how long it may deliver nothing before it is taken as
	// broken (a lost network path, no reset).
	linkPing   = 250 * time.Millisecond
	linkSilent = time.Second

	// linkFresh is how far behind the link may be, as the answers to its
	// pings tell, while entries are served: an answer comes after the
	// invalidations of every change Redis made before it had the ping, so
	// a link whose last answered ping went out longer ago than this may be
	// holding back an invalidation for longer. A link that lags (a
	// congested path, a backed-up buffer) but is never silent, since every
	// token write by anyone reaches it, is caught by this, not by
	// linkSilent.
	linkFresh = time.Second

	// linkDialTimeout bounds one attempt to open the link again.
	linkDialTimeout = 5 * time.Second

	// The pause between attempts to open the link again doubles from
	// linkMinBackoff up to linkMaxBackoff.
	linkMinBackoff = 10 * time.Millisecond
	linkMaxBackoff = time.Second
)

// errLinkSilent is the reason given for a link that delivered nothing, its
// pings' answers included, for linkSilent.
var errLinkSilent = errors.New("invalidation link delivered nothing, not even the answers to its pings")

// linkOptions are base's options for the link's own client: RESP2, whose
// invalidations arrive as Pub/Sub messages on the link's subscription, and
// a hook that turns tracking on whenever the client connects.
func (c *ClientCache) linkOptions(base *goredis.Options) *goredis.Options {
	opts := *base
	opts.Protocol = 2
	opts.PoolSize = 1
	opts.MinIdleConns = 0
	opts.ClientName = "tokencache-invalidations"
	if base.ClientName != "" {
		opts.ClientName = base.ClientName + "-invalidations"
	}
	dial := base.Dialer
	if dial == nil {
		dial = opts.NewDialer()
	}
	// The link client dials only to open the link, so a dial means the
	// link is down. go-redis dials again as soon as it finds a connection
	// broken, before it reports the failure, and a dial can hang (an
	// address that drops packets, a handshake that stalls) for seconds.
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.setLinked(false)
		// go-redis redials a broken link on its own, with a context of
		// its own: Close ends the dial too.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(c.ctx, cancel)()
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// go-redis bounds a read by its deadline only: closing the
		// connection is what ends a handshake stalled when Close comes.
		stop := context.AfterFunc(c.ctx, func() { _ = conn.Close() })
		return &linkConn{Conn: conn, stop: stop}, nil
	}
	userHook := base.OnConnect
	opts.OnConnect = func(ctx context.Context, cn *goredis.Conn) error {
		if userHook != nil {
			if err := userHook(ctx, cn); err != nil {
				return err
			}
		}
		return c.track(ctx, cn)
	}
	return &opts
}

// track turns on broadcast tracking of token keys on cn, redirected to cn
// itself.
func (c *ClientCache) track(ctx context.Context, cn *goredis.Conn) error {
	id, err := cn.ClientID(ctx).Result()
	if err != nil {
		return fmt.Errorf("asking the invalidation link's client id: %w", err)
	}
	err = cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", "PREFIX", trackedPrefix).Err()
	if err != nil {
		return fmt.Errorf("turning on client tracking (Redis 6 or later is needed): %w", err)
	}
	c.linkID.Store(id)
	if c.sentinel != nil {
		info, err := cn.Info(ctx, "server").Result()
		if err != nil {
			return fmt.Errorf("asking the invalidation link's server for its run id (INFO server): %w", err)
		}
		id := runID(info)
		if id == "" {
			return errors.New("the invalidation link's server reported no run_id in INFO server")
		}
		c.mu.Lock()
		c.linkServer = id
		c.mu.Unlock()
	}
	return nil
}

// runID is the run_id line of info, a reply to INFO server: a random
// identifier each server draws when it starts, which no other server
// shares, unlike the address it reports listening on (127.0.0.1:6379 in
// many a container); "" if info has none.
func runID(info string) string {
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(line, "run_id:"); ok {
			return strings.TrimSpace(id)
		}
	}
	return ""
}

// connect opens the link, subscribes and waits for Redis to confirm, then
// marks the cache linked.
func (c *ClientCache) connect(ctx context.Context) (*goredis.PubSub, error) {
	sub := c.link.Subscribe(ctx)
	if err := sub.Subscribe(ctx, invalidationChannel); err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("opening the invalidation link: %w", err)
	}
	msg, err := sub.ReceiveTimeout(ctx, linkDialTimeout)
	if err == nil {
		if s, ok := msg.(*goredis.Subscription); !ok || s.Channel != invalidationChannel {
			err = fmt.Errorf("unexpected %T", msg)
		}
	}
	if err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("subscribing the invalidation link: %w", err)
	}
	if !c.linkUp(sub) {
		_ = sub.Close()
		return nil, errors.New("the sentinels reported another master while the invalidation link opened")
	}
	return sub, nil
}

// run reads the link until the cache closes, opening it again whenever it
// breaks. sub is the link already open.
func (c *ClientCache) run(sub *goredis.PubSub) {
	defer close(c.done)
	backoff := linkMinBackoff
	for {
		if sub != nil {
			stop := context.AfterFunc(c.ctx, func() { _ = sub.Close() }) // unblocks the read
			err := c.read(sub)
			stop()
			_ = sub.Close()
			c.setLinked(false)
			if c.ctx.Err() != nil {
				return
			}
			c.logger.Warn("redis invalidation link broke: client cache dropped, reading redis until it is back", "error", err)
			backoff = linkMinBackoff
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(backoff):
		}
		ctx, cancel := context.WithTimeout(c.ctx, linkDialTimeout)
		var err error
		sub, err = c.connect(ctx)
		cancel()
		if err != nil {
			backoff = min(2*backoff, linkMaxBackoff)
			continue
		}
		c.logger.Info("redis invalidation link is back: client cache in use")
	}
}

// read applies the invalidations that arrive on sub until it breaks, and
// returns why. A watch beside it pings the link every linkPing, each ping
// carrying the time it went out, and closes the link once it has
// delivered nothing for linkSilent; read records, from each answer, how
// far behind the link is (see linkFresh).
//
// The reads have no deadline: go-redis keeps a connection whose read timed
// out, but drops what it had read of the reply, and the rest of a message
// split across TCP segments (one resent after a loss, 200 ms or more
// later) would then be read as a reply of its own. Cut before a key, it
// reads as a bare string, which go-redis hands over as a Pong, and the
// keys in it were lost: their tokens served on from memory.
func (c *ClientCache) read(sub *goredis.PubSub) error {
	var heard atomic.Int64 // sinceBorn when the link last delivered anything
	heard.Store(c.sinceBorn())
	var why error // the watch's reason, set before it closes sub
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		if err := c.watch(sub, &heard, stop); err != nil {
			why = err
			_ = sub.Close() // ends the read below
		}
	}()
	err := c.receive(sub, &heard)
	close(stop)
	_ = sub.Close() // ends a ping under way
	<-watched
	if why != nil {
		return why
	}
	return err
}

// receive applies the invalidations and ping answers that arrive on sub,
// recording when it heard anything, until the link breaks, and returns
// why.
func (c *ClientCache) receive(sub *goredis.PubSub, heard *atomic.Int64) error {
	for {
		msg, err := sub.Receive(context.Background())
		if err != nil {
			// Also a flush of the whole database, whose invalidation
			// names no key: dropping everything is then right.
			return err
		}
		heard.Store(c.sinceBorn())
		switch m := msg.(type) {
		case *goredis.Message:
			if m.Channel == invalidationChannel {
				c.invalidateRedisKeys(m.Payload, m.PayloadSlice)
			}
		case *goredis.Pong:
			sent, err := strconv.ParseInt(m.Payload, 10, 64)
			if err != nil {
				// Not the answer to a ping of ours: the stream is out of
				// step, and what it carried may have been lost.
				return errLinkOutOfStep
			}
			c.caughtUp(sent)
		}
	}
}

// errLinkOutOfStep is the reason given for a link that delivered a reply
// no command of its own asked for.
var errLinkOutOfStep = errors.New("invalidation link out of step: a reply that no ping asked for")

// watch pings sub every linkPing until stop is closed, and returns why it
// must be closed: a ping that failed, or nothing delivered (heard) for
// linkSilent.
func (c *ClientCache) watch(sub *goredis.PubSub, heard *atomic.Int64, stop <-chan struct{}) error {
	ping := time.NewTicker(linkPing)
	defer ping.Stop()
	for {
		if err := sub.Ping(context.Background(), strconv.FormatInt(c.sinceBorn(), 10)); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-ping.C:
		}
		if time.Duration(c.sinceBorn()-heard.Load()) > linkSilent {
			return errLinkSilent
		}
	}
}

// invalidateRedisKeys drops the token keys named by an invalidation:
// one key, or a list.
func (c *ClientCache) invalidateRedisKeys(one string, many []string) {
	if one != "" {
		many = append(many, one)
	}
	for _, k := range many {
		if key, ok := strings.CutPrefix(k, trackedPrefix); ok {
			c.invalidate(key)
		}
	}
}

// linkConn is a link connection that Close of the cache also closes.
type linkConn struct {
	net.Conn
	stop func() bool // forgets the close on the cache's Close
}

func (l *linkConn) Close() error {
	l.stop()
	return l.Conn.Close()
}
