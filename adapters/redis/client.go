package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"
)

// dialerRetries is how many times the client dials for one attempt of a
// command. go-redis's default (5, with pauses between) makes a command to a
// server that refuses connections wait for its whole deadline; the
// command's own retries (MaxRetries, 3 unless the URL says otherwise)
// already dial again.
const dialerRetries = 1

// NewClient connects to the Redis server at rawURL (such as
// redis://127.0.0.1:6379/0; see goredis.ParseURL for the forms accepted)
// and checks that it answers a PING. The returned func closes the client.
// Errors never contain the URL's password.
//
// The client's commands end at their context's deadline, not only at the
// URL's read and write timeouts (5 seconds unless set), so a server that
// stops answering cannot hold a request past its own timeout; a
// connection that timed out is closed, not reused. A context cancelled
// without a deadline still waits for those timeouts: go-redis bounds
// socket reads with deadlines only. A server that refuses connections
// fails a command after its few retries rather than at its deadline.
func NewClient(ctx context.Context, rawURL string) (goredis.UniversalClient, func(), error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing redis URL: %w", withoutURL(err))
	}
	opts.ContextTimeoutEnabled = true
	if opts.DialerRetries == 0 {
		opts.DialerRetries = dialerRetries
	}
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("connecting to redis at %s: %w", opts.Addr, err)
	}
	return client, func() { _ = client.Close() }, nil
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
