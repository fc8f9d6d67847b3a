package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"
)

// NewClient connects to the Redis server at rawURL (such as
// redis://127.0.0.1:6379/0; see goredis.ParseURL for the forms accepted)
// and checks that it answers a PING. The returned func closes the client.
// Errors never contain the URL's password.
func NewClient(ctx context.Context, rawURL string) (goredis.UniversalClient, func(), error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing redis URL: %w", withoutURL(err))
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
