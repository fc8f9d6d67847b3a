package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// failoverClient is the client NewClient makes for a Sentinel URL:
// go-redis's failover client, which finds the master through the
// sentinels and follows it, with the options it was made from, which a
// ClientCache needs to follow the master too.
type failoverClient struct {
	*goredis.Client
	opts *goredis.FailoverOptions
}

// newSentinelClient connects to the master that the sentinels of u, a
// redis+sentinel:// or rediss+sentinel:// URL, report.
func newSentinelClient(ctx context.Context, u *url.URL) (*failoverClient, error) {
	opts, err := parseSentinelURL(u)
	if err != nil {
		return nil, fmt.Errorf("parsing redis sentinel URL: %w", err)
	}
	client := goredis.NewFailoverClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connecting to redis sentinel master %q via %s: %w",
			opts.MasterName, strings.Join(opts.SentinelAddrs, ", "), err)
	}
	return &failoverClient{Client: client, opts: opts}, nil
}

// parseSentinelURL reads u in goredis.ParseFailoverURL's form, its scheme
// without "+sentinel", and gives the master the sentinels' credentials
// unless the query gives its own.
func parseSentinelURL(u *url.URL) (*goredis.FailoverOptions, error) {
	if err := readableQuery(u); err != nil {
		return nil, err
	}
	plain := *u
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
