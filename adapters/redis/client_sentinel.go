package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// setDialer gives opts go-redis's own dialer, for the sentinels and the
// master alike, with the dial timeout it would use (a TLS handshake has no
// other bound), marking the connections for the masterConns it returns.
func setDialer(opts *goredis.FailoverOptions) *masterConns {
	dialTimeout := opts.DialTimeout
	if dialTimeout == 0 {
		dialTimeout = defaultDialTimeout
	}
	conns := newMasterConns()
	dial := goredis.NewDialer(&goredis.Options{DialTimeout: dialTimeout, TLSConfig: opts.TLSConfig})
	opts.Dialer = conns.dialer(dial)
	conns.replicaOf = askReplicaOf(opts, dial)
	return conns
}

// askReplicaOf returns a function that asks a server, with the master's
// credentials and timeouts in opts and dialled with dial (not through
// masterConns, whose dialer asks it), whose replica it is (ROLE): the
// address of its master, or "" if it is none.
func askReplicaOf(opts *goredis.FailoverOptions, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, addr string) (string, error) {
	return func(ctx context.Context, addr string) (string, error) {
		c := goredis.NewClient(&goredis.Options{
			Addr: addr, Dialer: dial, Protocol: opts.Protocol,
			Username: opts.Username, Password: opts.Password,
			DialTimeout: opts.DialTimeout, ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout,
			ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1, PoolSize: 1,
			DisableIdentity: true,
		})
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil {
			return "", err
		}
		if len(role) < 3 || role[0] != "slave" {
			return "", nil
		}
		host, _ := role[1].(string)
		port, ok := role[2].(int64)
		if host == "" || !ok {
			return "", fmt.Errorf("redis %s: ROLE names no master: %v", addr, role)
		}
		return net.JoinHostPort(host, strconv.FormatInt(port, 10)), nil
	}
}

// defaultDialTimeout is go-redis's dial timeout when the URL sets none.
const defaultDialTimeout = 5 * time.Second

// failoverClient is the client NewClient makes for a Sentinel URL:
// go-redis's failover client, which finds the master through the
// sentinels and follows it, and a poll of the URL's sentinels that makes
// sure it does (see poll), which client caches follow the master by too.
type failoverClient struct {
	*goredis.Client
	watch *sentinelWatch // the URL's sentinels

	ctx    context.Context // the polls', cancelled by Close
	cancel context.CancelFunc
	polled chan struct{} // closed when the polls have ended
	conns  *masterConns  // the pool's connections to the master

	mu     sync.Mutex
	caches map[*ClientCache]struct{} // following the master through the polls
}

// newSentinelClient connects to the master that the sentinels of u, a
// redis+sentinel:// or rediss+sentinel:// URL, report, and starts polling
// them.
func newSentinelClient(ctx context.Context, u *url.URL) (*failoverClient, error) {
	opts, err := parseSentinelURL(u)
	if err != nil {
		return nil, fmt.Errorf("parsing redis sentinel URL: %w", err)
	}
	f := startFailoverClient(opts)
	// The master and its replicas now, before go-redis dials one: should
	// its sentinel name a server the newest configuration says was
	// replaced, the dialer dials the master instead (see masterConns).
	mctx, cancel := context.WithTimeout(ctx, sentinelAnswer)
	_, _ = f.watch.master(mctx) // conns learn what it says; go-redis asks on its own
	cancel()
	if err := f.Ping(ctx).Err(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("connecting to redis sentinel master %q via %s: %w",
			opts.MasterName, strings.Join(opts.SentinelAddrs, ", "), err)
	}
	return f, nil
}

// startFailoverClient makes go-redis's failover client for opts, its
// connections counted (masterConns), and starts the polls.
// It connects to nothing itself.
func startFailoverClient(opts *goredis.FailoverOptions) *failoverClient {
	conns := setDialer(opts)
	client := goredis.NewFailoverClient(opts)
	f := &failoverClient{
		Client: client,
		watch:  newSentinelWatch(opts, client.Options(), conns),
		polled: make(chan struct{}),
		conns:  conns,
		caches: make(map[*ClientCache]struct{}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	go f.poll()
	return f
}

// parseSentinelURL reads u in goredis.ParseFailoverURL's form, its scheme
// without "+sentinel", and gives the master the sentinels' credentials
// unless the query gives its own.
func parseSentinelURL(u *url.URL) (*goredis.FailoverOptions, error) {
	if err := readableQuery(u); err != nil {
		return nil, err
	}
	plain := withSentinelPorts(u)
	plain.Scheme = strings.TrimSuffix(u.Scheme, "+sentinel")
	opts, err := goredis.ParseFailoverURL(plain.String())
	if err != nil {
		return nil, parseError(plain.String(), err)
	}
	q := u.Query()
	switch {
	case opts.MasterName == "":
		return nil, errors.New("master_name is missing: the sentinels' name of the master is required")
	case opts.ReplicaOnly || opts.RouteByLatency || opts.RouteRandomly:
		// The first sends writes to replicas; go-redis's failover client
		// panics on the others.
		return nil, errors.New("replica_only, route_by_latency and route_randomly are not supported: every command goes to the master")
	}
	if !q.Has("username") {
		opts.Username = opts.SentinelUsername
	}
	if !q.Has("password") {
		opts.Password = opts.SentinelPassword
	}
	unpinServerName(opts.TLSConfig)
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = retriesOr(opts.DialerRetries)
	return opts, nil
}

// sentinelPort is the port Redis Sentinel listens on unless told otherwise.
const sentinelPort = "26379"

// withSentinelPorts is u with Sentinel's port given to its host, and to
// its addr= values, where they name none: goredis.ParseFailoverURL takes
// Redis's port, 6379, for the host's, and refuses an addr= without one.
// The rest of the query is kept as written, the master's password= among
// it.
func withSentinelPorts(u *url.URL) *url.URL {
	plain := *u
	if u.Port() == "" {
		plain.Host = net.JoinHostPort(u.Hostname(), sentinelPort)
	}
	pairs := strings.Split(u.RawQuery, "&")
	for i, pair := range pairs {
		key, value, _ := strings.Cut(pair, "=")
		// readableQuery has checked that every pair unescapes.
		if k, _ := url.QueryUnescape(key); k != "addr" {
			continue
		}
		addr, _ := url.QueryUnescape(value)
		if host, ok := hostAlone(addr); ok {
			pairs[i] = key + "=" + url.QueryEscape(net.JoinHostPort(host, sentinelPort))
		}
	}
	plain.RawQuery = strings.Join(pairs, "&")
	return &plain
}

// hostAlone returns the host of addr and true if addr names no port: a
// name, an IPv4 address or a bracketed IPv6 one, alone or followed by ":"
// and nothing more.
func hostAlone(addr string) (string, bool) {
	addr = strings.TrimSuffix(addr, ":")
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		return addr[1 : len(addr)-1], true
	}
	return addr, addr != "" && !strings.Contains(addr, ":")
}

// unpinServerName clears the server name go-redis's URL parsers set to the
// URL's first host, so that each TLS connection verifies the certificate
// against the address it dials (crypto/tls does so when ServerName is
// empty): the other sentinels, the master they report, and a cluster's
// other nodes are other servers with certificates of their own.
func unpinServerName(cfg *tls.Config) {
	if cfg != nil {
		cfg.ServerName = ""
	}
}
