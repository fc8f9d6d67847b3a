package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
)

// mint-session with PostgreSQL stalling as the token's row goes in: the
// command ends by its --timeout with an error, and leaves nothing in
// either store.
func TestMintSessionEndsByItsTimeoutWhenPostgresStalls(t *testing.T) {
	t.Parallel()
	s := newRealStores(t) // migrates
	redisSrv := integration.StartRedisServer(t, false)
	pgProxy := startFaultProxy(t, integration.DatabaseURL(t))
	pgProxy.Inject(faultproxy.Stall, faultproxy.Contains("INSERT INTO token"))
	env := []string{
		envRedisURL + "=" + redisSrv.URL(),
		envDatabaseURL + "=" + proxiedURL(t, integration.DatabaseURL(t), pgProxy),
		envSessionSecret + "=" + s.secret,
	}
	_, username := newGafaelfawrKey(t, "stalled")
	const timeout = 2 * time.Second
	start := time.Now()
	stdout, stderr, code := runBinary(t, env, "mint-session", "--user", username, "--timeout", timeout.String())
	took := time.Since(start)
	if code == exitOK || stdout != "" {
		t.Fatalf("mint-session with PostgreSQL stalled exited with %d, printing %q", code, stdout)
	}
	if took > timeout+5*time.Second {
		t.Errorf("mint-session took %v with --timeout %v", took, timeout)
	}
	if !strings.Contains(stderr, "deadline") {
		t.Errorf("the error does not say the time ran out: %s", stderr)
	}
	rdb := openRedis(t, redisSrv.URL())
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("%d keys left in Redis (%v), want none", n, err)
	}
	var rows int
	if err := s.db.QueryRow("SELECT count(*) FROM token WHERE username = $1", username).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rows left in PostgreSQL (%v), want none", rows, err)
	}
}
