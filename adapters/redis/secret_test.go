package redis_test

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/redis"
)

// These need no server: the constructor does no I/O.
func TestNewTokenStoreRejectsBadSessionSecret(t *testing.T) {
	t.Parallel()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	raw := []byte("0123456789abcdef0123456789ABCDEF") // 32 bytes
	good := base64.URLEncoding.EncodeToString(raw)
	// fernetbox's tests go through the forms a secret must not take;
	// this checks that the store refuses through it and says why.
	for name, secret := range map[string]string{
		"not base64": "this is not base64 at all, it is a passphrase!!",
		"hex":        hex.EncodeToString(raw),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := redis.NewTokenStore(client, secret, memory.SystemClock{}, logger)
			if err == nil {
				t.Fatal("NewTokenStore accepted the session secret")
			}
			if containsSecret(err.Error(), secret) {
				t.Fatalf("error %q contains the session secret", err)
			}
			if !strings.Contains(err.Error(), "session secret") {
				t.Errorf("error %q does not say the session secret is at fault", err)
			}
		})
	}
	if _, err := redis.NewTokenStore(client, good, memory.SystemClock{}, logger); err != nil {
		t.Fatalf("NewTokenStore rejected a good secret: %v", err)
	}
}

func TestNewTokenStoreRejectsMissingDependencies(t *testing.T) {
	t.Parallel()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := newSessionSecret(t)
	for name, newStore := range map[string]func() (*redis.TokenStore, error){
		"client": func() (*redis.TokenStore, error) {
			return redis.NewTokenStore(nil, secret, memory.SystemClock{}, logger)
		},
		"clock": func() (*redis.TokenStore, error) { return redis.NewTokenStore(client, secret, nil, logger) },
		"logger": func() (*redis.TokenStore, error) {
			return redis.NewTokenStore(client, secret, memory.SystemClock{}, nil)
		},
	} {
		if _, err := newStore(); err == nil {
			t.Errorf("NewTokenStore accepted a nil %s", name)
		}
	}
}
