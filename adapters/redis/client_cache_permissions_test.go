package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/internal/integration"
)

// A Redis user made for Gafaelfawr may lack PTTL, which only the client
// cache asks for: a read then still answers, from Redis, and is only not
// kept in memory.
func TestClientCacheServesReadsWithoutPTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := integration.RedisURL(t)
	admin, closeAdmin, err := redis.NewClient(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAdmin()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	user, password := "tokencache-test-"+hex.EncodeToString(b[:]), hex.EncodeToString(b[:])
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "~*", "&*", "+@all", "-pttl").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)

	e := newCachedEnvAt(t, u.String(), redis.ClientCacheConfig{})
	data := e.fullData(t)
	e.put(t, data)
	for range 3 {
		if _, err := e.mustMiss(t, data.Token); err != nil {
			t.Fatalf("Get without PTTL: %v, want the token read from Redis", err)
		}
	}
}
