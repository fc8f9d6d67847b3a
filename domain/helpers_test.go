package domain_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// testNow is the "now" of every test that does not say otherwise.
var testNow = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// testLifetime is the service's token lifetime in these tests: the 30-day
// default.
const testLifetime = 30 * 24 * time.Hour

// testToken returns a fixed, valid token. Different seeds give different
// tokens, and the key and secret of one token always differ, so a test can
// tell which of the two leaked.
func testToken(t testing.TB, seed byte) domain.Token {
	t.Helper()
	random := make([]byte, 32)
	for i := range random {
		random[i] = seed*32 + byte(i)
	}
	token, err := domain.NewToken(bytes.NewReader(random))
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	return token
}

// testParent returns alice's session token, with full user information,
// expiring long after any child created at testNow would.
func testParent(t testing.TB) domain.TokenData {
	t.Helper()
	return domain.TokenData{
		Token:    testToken(t, 1),
		Username: "alice",
		Type:     domain.TokenTypeSession,
		Scopes:   []string{"exec:notebook", "read:all", "user:token"},
		Created:  testNow.Add(-time.Hour),
		Expires:  testNow.Add(testLifetime + 24*time.Hour),
		Name:     "Alice Example",
		Email:    "alice@example.com",
		UID:      1000,
		GID:      1000,
		Groups:   []domain.Group{{Name: "alice", ID: 1000}, {Name: "staff", ID: 2000}},
	}
}
