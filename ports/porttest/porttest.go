// Package porttest holds conformance suites for the ports: every adapter of
// a port must pass its suite, the memory one as well as the real one.
// Suites use fresh random tokens, so they may share a store with other
// tests running in parallel.
package porttest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// newToken returns a fresh random token.
func newToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sessionData is a full parent session token's data expiring in lifetime.
func sessionData(t *testing.T, lifetime time.Duration) domain.TokenData {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return domain.TokenData{
		Token:    newToken(t),
		Username: "porttest-user",
		Type:     domain.TokenTypeSession,
		Scopes:   []string{"exec:notebook", "read:all", "user:token"},
		Created:  now,
		Expires:  now.Add(lifetime),
		Name:     "Port Test",
		Email:    "porttest@example.com",
		UID:      4123,
		GID:      4124,
		Groups:   []domain.Group{{Name: "g_users", ID: 4123}, {Name: "g_admins", ID: 5000}},
	}
}
