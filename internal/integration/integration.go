// Package integration tells integration tests where the real servers are.
//
// Tests read TOKENCACHE_TEST_REDIS_URL and TOKENCACHE_TEST_DATABASE_URL.
// When one is unset the test is skipped with a message saying so, unless
// TOKENCACHE_REQUIRE_INTEGRATION=1, when it fails instead. scripts/test sets
// all three.
package integration

import (
	"os"
	"testing"
)

// RedisURL returns the URL of the Redis server for integration tests.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	return lookup(tb, "TOKENCACHE_TEST_REDIS_URL")
}

// DatabaseURL returns the URL of the PostgreSQL database for integration
// tests.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	return lookup(tb, "TOKENCACHE_TEST_DATABASE_URL")
}

// Required reports whether integration tests must run rather than skip.
func Required() bool {
	return os.Getenv("TOKENCACHE_REQUIRE_INTEGRATION") == "1"
}

func lookup(tb testing.TB, name string) string {
	tb.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if Required() {
		tb.Fatalf("%s is not set and TOKENCACHE_REQUIRE_INTEGRATION=1: integration tests need a real server (run scripts/test)", name)
	}
	tb.Skipf("%s is not set: skipping integration test (scripts/test provides real servers)", name)
	return ""
}
