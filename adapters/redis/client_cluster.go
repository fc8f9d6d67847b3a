package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// newClusterClient connects to the Redis Cluster of u, a redis+cluster://
// or rediss+cluster:// URL, and checks that every master answers and
// reports the cluster ok.
func newClusterClient(ctx context.Context, u *url.URL) (*goredis.ClusterClient, error) {
	opts, err := parseClusterURL(u)
	if err != nil {
		return nil, fmt.Errorf("parsing redis cluster URL: %w", err)
	}
	client := goredis.NewClusterClient(opts)
	if err := checkCluster(ctx, client); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connecting to redis cluster at %s: %w", strings.Join(opts.Addrs, ", "), err)
	}
	return client, nil
}

// parseClusterURL reads u in goredis.ParseClusterURL's form, its scheme
// without "+cluster". go-redis ignores a path; a database other than 0 is
// refused, since a cluster has no other.
func parseClusterURL(u *url.URL) (*goredis.ClusterOptions, error) {
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		// Not quoted: a password holding an unescaped "/" lands here.
		return nil, errors.New("a redis cluster has database 0 only, and the URL names another")
	}
	if err := readableQuery(u); err != nil {
		return nil, err
	}
	plain := *u
	plain.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
	plain.Path, plain.RawPath = "", ""
	opts, err := goredis.ParseClusterURL(plain.String())
	if err != nil {
		return nil, parseError(plain.String(), err)
	}
	if opts.ReadOnly || opts.RouteByLatency || opts.RouteRandomly {
		// Each sends reads to replicas, which would see a token revoked on
		// its master as live, and a child just made as missing, for as
		// long as they lag.
		return nil, errors.New("read_only, route_by_latency and route_randomly are not supported: every command goes to the master")
	}
	unpinServerName(opts.TLSConfig)
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = retriesOr(opts.DialerRetries)
	return opts, nil
}

// checkCluster pings every master of the cluster and wants each to report
// cluster_state:ok, so that a node that is not in a cluster, or a cluster
// with slots unserved, fails at start rather than on the first request.
func checkCluster(ctx context.Context, client *goredis.ClusterClient) error {
	return client.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		if err := node.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("node %s: %w", node.Options().Addr, err)
		}
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("node %s: %w", node.Options().Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("node " + node.Options().Addr + " reports the cluster not ok (cluster_state is not ok)")
		}
		return nil
	})
}
