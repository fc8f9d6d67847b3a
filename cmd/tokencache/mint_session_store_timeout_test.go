package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
)

// slowReplyProxy forwards to target at once in both directions, except
// that once a client chunk matches, the server's replies on that
// connection are held for delay: the command takes effect on the server,
// its answer comes late (a busy or distant server).
func slowReplyProxy(t *testing.T, target string, match faultproxy.Matcher, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			var mu sync.Mutex
			slow := false
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer s.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if match(buf[:n]) {
							mu.Lock()
							slow = true
							mu.Unlock()
						}
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						mu.Lock()
						wait := slow
						mu.Unlock()
						if wait {
							time.Sleep(delay)
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// mint-session whose --timeout strikes while Redis's answer to the SET is
// on its way: the SET took effect, and the command's help promises that
// past the timeout nothing is left in either store.
func TestMintSessionTimeoutDuringStoreLeavesNoRedisKey(t *testing.T) {
	t.Parallel()
	s := newRealStores(t) // migrates
	redisSrv := integration.StartRedisServer(t, false)
	proxy := slowReplyProxy(t, redisSrv.Addr(), faultproxy.RedisCommand("SET"), 4*time.Second)
	env := []string{
		envRedisURL + "=redis://" + proxy + "/0",
		envDatabaseURL + "=" + integration.DatabaseURL(t),
		envSessionSecret + "=" + s.secret,
	}
	_, username := newGafaelfawrKey(t, "slowset")
	stdout, stderr, code := runBinary(t, env, "mint-session", "--user", username, "--timeout", "2s")
	if code == exitOK || stdout != "" {
		t.Fatalf("mint-session exited with %d, printing %q", code, stdout)
	}
	t.Logf("stderr: %s", strings.TrimSpace(stderr))
	rdb := openRedis(t, redisSrv.URL())
	keys, err := rdb.Keys(context.Background(), "token:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.db.QueryRow("SELECT count(*) FROM token WHERE username = $1", username).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("mint-session failed by its timeout but left %d token key(s) in Redis %v with %d row(s) in PostgreSQL", len(keys), keys, rows)
	}
}

// The same with PostgreSQL's answer to each step coming late: whatever
// the command says, the stores must agree (a key with its row, or
// neither).
func TestMintSessionTimeoutDuringPostgresStepsLeavesStoresAgreeing(t *testing.T) {
	s := newRealStores(t) // migrates
	for _, step := range []string{"BEGIN", "pg_advisory", "INSERT INTO token", "Q\x00\x00\x00\x0bCOMMIT\x00"} {
		t.Run(step, func(t *testing.T) {
			redisSrv := integration.StartRedisServer(t, false)
			u := integration.DatabaseURL(t)
			pgAddr := strings.SplitN(strings.SplitN(u, "@", 2)[1], "/", 2)[0]
			proxy := slowReplyProxy(t, pgAddr, faultproxy.Contains(step), 4*time.Second)
			env := []string{
				envRedisURL + "=" + redisSrv.URL(),
				envDatabaseURL + "=" + strings.Replace(u, pgAddr, proxy, 1),
				envSessionSecret + "=" + s.secret,
			}
			_, username := newGafaelfawrKey(t, "slowpg")
			stdout, stderr, code := runBinary(t, env, "mint-session", "--user", username, "--timeout", "2s")
			t.Logf("exit %d, stdout %q, stderr: %s", code, strings.TrimSpace(stdout), strings.TrimSpace(stderr))
			time.Sleep(5 * time.Second) // let the server end the session
			rdb := openRedis(t, redisSrv.URL())
			keys, err := rdb.Keys(context.Background(), "token:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			var rows int
			if err := s.db.QueryRow("SELECT count(*) FROM token WHERE username = $1", username).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if len(keys) != rows || (code == exitOK) != (rows == 1) {
				t.Errorf("exit %d: %d key(s) in Redis, %d row(s) in PostgreSQL", code, len(keys), rows)
			}
		})
	}
}
