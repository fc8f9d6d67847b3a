package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// Redis counts a key's time to live from its clock in whole milliseconds,
// the current one truncated, so PTTL may answer up to a millisecond more
// than the key has left: a copy kept from a read must end no later than
// the key, whatever fraction of a millisecond Redis's clock was at.
func TestReadForCacheEndsNoLaterThanTheKey(t *testing.T) {
	ctx := context.Background()
	client := goredis.NewClient(mustParseURL(t, integration.RedisURL(t)))
	t.Cleanup(func() { _ = client.Close() })
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	store, err := NewTokenStore(client, base64.URLEncoding.EncodeToString(secret), memory.SystemClock{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store.cache = newClientCache(ClientCacheConfig{MaxEntries: 10, MaxBytes: 1 << 20}, slog.New(slog.DiscardHandler))
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	data := domain.TokenData{Token: token, Username: "someuser", Type: domain.TokenTypeUser, Created: now, Expires: now.Add(time.Hour)}
	if err := store.Store(ctx, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Del(context.Background(), redisKey(token.Key)).Err() })
	for attempt := range 50 {
		end := time.Now().Add(10 * time.Second).Truncate(time.Millisecond)
		if err := client.PExpireAt(ctx, redisKey(token.Key), end).Err(); err != nil {
			t.Fatal(err)
		}
		_, until, _, _, err := store.readForCache(ctx, token.Key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if until.After(end) {
			t.Fatalf("attempt %d: the copy is kept until %v after its key's end", attempt, until.Sub(end))
		}
	}
}

func mustParseURL(t *testing.T, url string) *goredis.Options {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}
