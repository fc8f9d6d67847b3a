package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/internal/urlsecret"
)

// dialerRetries is how many times the client dials for one attempt of a
// command. go-redis's default (5, with pauses between) makes a command to a
// server that refuses connections wait for its whole deadline; the
// command's own retries (MaxRetries, 3 unless the URL says otherwise)
// already dial again.
const dialerRetries = 1

// NewClient connects to the Redis at rawURL and checks that it answers.
// The URL's scheme chooses the topology, each in go-redis's own URL form:
//
//   - redis://, rediss:// or unix://: one server (goredis.ParseURL), such
//     as redis://:PASSWORD@127.0.0.1:6379/0. It must answer a PING.
//   - redis+sentinel:// or rediss+sentinel://: a master found through Redis
//     Sentinel (goredis.ParseFailoverURL), such as
//     redis+sentinel://:PASSWORD@10.0.0.1:26379?addr=10.0.0.2:26379&addr=10.0.0.3:26379&master_name=mymaster.
//     master_name is required. A sentinel given without a port, as the
//     host or an addr=, is dialled on Sentinel's 26379. The URL's user and
//     password authenticate to the sentinels and, unless the query gives
//     the master's own (username=, password=; password= with no value for
//     none), to the master as well. The master must answer a PING. The
//     client follows the master when the sentinels fail it over: go-redis
//     hears of it from one sentinel, and the client also asks the URL's
//     sentinels every quarter second and closes its connections to a
//     server they named master before and no longer do, so that nothing
//     goes to an old master even if that sentinel's message was missed.
//   - redis+cluster:// or rediss+cluster://: a Redis Cluster
//     (goredis.ParseClusterURL), such as
//     redis+cluster://:PASSWORD@10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379,
//     the addresses being seeds from which the client learns the others.
//     The user and password are every node's. Every master must answer a
//     PING and report cluster_state:ok. A cluster has database 0 only: a
//     URL naming another is refused.
//
// The returned client is a *goredis.Client for one server and a
// *goredis.ClusterClient for a cluster; for Sentinel it is a value of
// this package's holding the *goredis.Client of goredis.NewFailoverClient
// and the options it was made from, which NewClientCache needs. The
// returned func closes the client. Errors name the topology and never
// contain a password.
//
// The client's commands end at their context's deadline, not only at the
// URL's read and write timeouts (5 seconds unless set), so a server that
// stops answering cannot hold a request past its own timeout; a
// connection that timed out is closed, not reused. A context cancelled
// without a deadline still waits for those timeouts: go-redis bounds
// socket reads with deadlines only. A server that refuses connections
// fails a command after its few retries rather than at its deadline.
func NewClient(ctx context.Context, rawURL string) (goredis.UniversalClient, func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing redis URL: %w", parseError(rawURL, err))
	}

	var client goredis.UniversalClient
	switch u.Scheme {
	case "redis", "rediss", "unix":
		if err = readableQuery(u); err != nil {
			err = fmt.Errorf("parsing redis URL: %w", err)
			break
		}
		client, err = newServerClient(ctx, rawURL)
	case "redis+sentinel", "rediss+sentinel":
		client, err = newSentinelClient(ctx, u)
	case "redis+cluster", "rediss+cluster":
		client, err = newClusterClient(ctx, u)
	default:
		err = fmt.Errorf("parsing redis URL: unsupported scheme %q (want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster)", u.Scheme)
	}
	if err != nil {
		if !urlsecret.Located(rawURL) && !errors.Is(err, errUnreadableQuery) {
			// The parsers took part of the credentials for the host,
			// port, database or an option, which errors quote.
			return nil, nil, fmt.Errorf("redis URL (%s): %w", u.Scheme, errWithheld)
		}
		return nil, nil, err
	}
	return client, func() { _ = client.Close() }, nil
}

// readableQuery fails if net/url cannot read all of u's query: u.Query(),
// which go-redis's parsers use, silently drops a pair holding a raw ";" or
// a bad %-escape (a master's password, or addr= sentinels). The message
// quotes nothing: the pair may be a password.
func readableQuery(u *url.URL) error {
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return errUnreadableQuery
	}
	return nil
}

// errUnreadableQuery is readableQuery's error, which may be shown whatever
// the URL holds.
var errUnreadableQuery = errors.New("an option of the query cannot be read (a raw \";\" or a \"%\" not followed by two hex digits): percent-encode them")

// newServerClient connects to the one server at rawURL.
func newServerClient(ctx context.Context, rawURL string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing redis URL: %w", parseError(rawURL, err))
	}
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = retriesOr(opts.DialerRetries)
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connecting to redis at %s: %w", opts.Addr, err)
	}
	return client, nil
}

// retriesOr is the URL's dialer_retries if it sets one, else ours.
func retriesOr(fromURL int) int {
	if fromURL == 0 {
		return dialerRetries
	}
	return fromURL
}

// withoutURL drops the URL that net/url's errors quote whole, password
// included, keeping only what was wrong with it.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// errWithheld stands for an error about a URL whose credentials are not
// where its parsers look for them (see urlsecret.Located): the message could
// quote the password, whole or in part.
var errWithheld = errors.New("what is wrong with the URL is withheld since it could quote the password: write \"//\" after the scheme, " +
	"separate user and password with a \":\" as it is (not %3A), percent-encode any /, ?, #, & or % in the credentials, and put a password= option last")

// parseError is err, from parsing rawURL, as it may be shown. net/url's
// errors quote the whole URL, which is dropped; the parsers' own messages
// quote the part at fault, which can be the password when it is not where
// they look for it: then nothing of the message is shown.
func parseError(rawURL string, err error) error {
	if !urlsecret.Located(rawURL) {
		return errWithheld
	}
	return withoutURL(err)
}
