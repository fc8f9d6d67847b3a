package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/adapters/postgres"
)

// lib/pq reads ports in the host list of a URL otherwise than libpq:
// postgres://u@h1:p1,h2:p2/db as one host "h1:p1,h2" on p2, and
// postgres://u@h1,h2:p2/db with both hosts on p2, where libpq puts h1 on
// 5432. Open refuses such a list, saying how to give one, and quotes no
// password. A list without ports, and the key=value form's lists
// (TestConnectTriesTheNextHostWithinItsOwnConnectTimeout), are read alike.
func TestOpenRefusesAURLHostListWithPorts(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://postgres:s3cret@127.0.0.1:1,127.0.0.1:5432/db?sslmode=disable",
		"postgresql://postgres:s3cret@h1,h2:5433/db",
	} {
		_, _, err := postgres.Open(context.Background(), url)
		if err == nil || !strings.Contains(err.Error(), "host=") {
			t.Errorf("Open(%s) = %v, want a refusal naming the key=value form", strings.ReplaceAll(url, "s3cret", "…"), err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
	// Without ports, a URL's list is read as libpq reads it: each host in
	// turn, on 5432. This one fails for want of the hosts, not as refused.
	_, _, err := postgres.Open(context.Background(), "postgresql://postgres:s3cret@h1.invalid,h2.invalid/db?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "host=") || !strings.Contains(err.Error(), "h2.invalid") {
		t.Errorf("a host list without ports: %v, want a failure to connect", err)
	}
}
