package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/internal/integration"
)

// A database URL whose credentials are escaped as a whole ("user%3Apw@")
// makes the server's refusal quote the password as a role name: no
// command shows it.
func TestStderrNeverQuotesAPasswordWrittenWithAnEscapedColon(t *testing.T) {
	const secret = "Hunter2SecretValue"
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = nil
	dsn := strings.Replace(u.String(), "://", "://"+url.QueryEscape("tokencache_no_such_role:"+secret)+"@", 1)
	env := []string{
		envRedisURL + "=" + integration.RedisURL(t),
		envDatabaseURL + "=" + dsn,
		envSessionSecret + "=" + newSessionSecret(t),
	}
	for _, args := range [][]string{{"migrate"}, {"serve", "--listen", "127.0.0.1:0"}, {"mint-session", "--user", "alice"}} {
		_, stderr, code := runBinary(t, env, args...)
		if code != exitError {
			t.Errorf("%s: exit code %d, want %d", args[0], code, exitError)
		}
		if strings.Contains(stderr, secret) {
			t.Errorf("%s: stderr quotes the password:\n%s", args[0], stderr)
		}
	}
}
