package app_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/faultproxy"
)

// Faults at each step of a request, on the real stores behind fault
// proxies: the request ends within its deadline, the stores agree
// afterwards (a child is in both or in neither), no goroutine is left
// behind, and the next request succeeds once traffic passes again.
//
// The cases run one at a time, not in parallel, because the goroutine check
// sees the whole process.

// faultStep is one store command of a request.
type faultStep struct {
	name  string
	proxy func(*faultEnv) *faultproxy.Proxy
	match faultproxy.Matcher
}

func onRedis(e *faultEnv) *faultproxy.Proxy    { return e.redis }
func onPostgres(e *faultEnv) *faultproxy.Proxy { return e.postgres }

var (
	redisGet = faultStep{"RedisGET", onRedis, faultproxy.RedisCommand("GET")}
	redisSet = faultStep{"RedisSET", onRedis, faultproxy.RedisCommand("SET")}
	// The transaction's BEGIN goes in one message with the lock and the
	// lookup, and the three rows in one statement.
	pgBegin  = faultStep{"PostgresBEGINLockAndFind", onPostgres, faultproxy.Contains("pg_advisory_xact_lock")}
	pgInsert = faultStep{"PostgresInsertRows", onPostgres, faultproxy.Contains("INSERT INTO token\n")}
	pgCommit = faultStep{"PostgresCOMMIT", onPostgres, pgQuery("COMMIT")}
	pgRoll   = faultStep{"PostgresROLLBACK", onPostgres, pgQuery("ROLLBACK")}
)

// pgQuery matches the simple-protocol Query message of statement alone:
// Contains("COMMIT") would match the BEGIN too ("READ COMMITTED").
func pgQuery(statement string) faultproxy.Matcher {
	msg := binary.BigEndian.AppendUint32([]byte{'Q'}, uint32(4+len(statement)+1))
	return faultproxy.Contains(string(append(append(msg, statement...), 0)))
}

// faultScenarios are the three paths of a request, each with the state it
// needs and the store commands it makes, in order.
var faultScenarios = []struct {
	name    string
	prepare func(t *testing.T, e *faultEnv, p domain.TokenData)
	steps   []faultStep
}{
	{
		name: "CacheHit",
		prepare: func(t *testing.T, e *faultEnv, p domain.TokenData) {
			e.internal(t, p, e.service, e.scopes)
		},
		steps: []faultStep{redisGet},
	},
	{
		name: "RepositoryLookup",
		prepare: func(t *testing.T, e *faultEnv, p domain.TokenData) {
			e.internal(t, p, e.service, e.scopes)
			if err := e.svc.Clear(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		steps: []faultStep{pgBegin, redisGet, pgRoll},
	},
	{
		name:    "Creation",
		prepare: func(*testing.T, *faultEnv, domain.TokenData) {},
		steps:   []faultStep{pgBegin, redisSet, pgInsert, pgCommit},
	},
}

func TestIntegrationFaults(t *testing.T) {
	b := newFaultBase(t)
	for _, sc := range faultScenarios {
		for _, step := range sc.steps {
			for _, fault := range faultproxy.Faults {
				t.Run(sc.name+"/"+step.name+"/"+fault.String(), func(t *testing.T) {
					e := newFaultEnv(t, b)
					p := e.addParent(t, 7*24*time.Hour)
					t.Cleanup(func() { e.removeOrphans(t, p.Username) })
					sc.prepare(t, e, p)

					fired := step.proxy(e).Inject(fault, step.match)
					o := e.requestUnderFault(t, p)
					select {
					case <-fired:
					default:
						t.Fatalf("the fault never struck (request: %v): the step was not reached", o.err)
					}
					t.Logf("under the fault: %v after %v", o.err, o.elapsed.Round(time.Millisecond))

					e.heal(t)
					e.waitForCleanups(t)
					e.checkStoresAgree(t, p.Username)
					if o.err == nil {
						if _, err := e.store.Get(context.Background(), o.token); err != nil {
							t.Errorf("the child handed out under the fault is not in Redis: %v", err)
						}
					}

					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, err := e.request(ctx, p); err != nil {
						t.Fatalf("the next request, with traffic passing again, failed: %v", err)
					}
					e.checkStoresAgree(t, p.Username)
				})
			}
		}
	}
}

// TestIntegrationStrandedTransactionEnds: a replica cut off from
// PostgreSQL before its COMMIT arrives gives up on its transaction, but
// the server, which never hears of it, keeps the session idle in it,
// holding the child's advisory lock and the parent's row. The server ends
// it (idle_in_transaction_session_timeout, twice the creation timeout):
// then another replica gets the child, and Gafaelfawr can delete the
// parent, rather than each waiting for the server's TCP keepalive.
func TestIntegrationStrandedTransactionEnds(t *testing.T) {
	b := newFaultBase(t)
	e := newFaultEnv(t, b, func(c *app.Config) { c.CreationTimeout = time.Second })
	p := e.addParent(t, 7*24*time.Hour)
	t.Cleanup(func() { e.removeOrphans(t, p.Username) })
	other := newRealEnvFrom(t, app.Config{
		RedisURL: b.redisURL, DatabaseURL: b.databaseURL, SessionSecret: e.cfg.SessionSecret,
		TokenLifetime: 24 * time.Hour, CacheSize: 100,
	})

	fired := e.postgres.Inject(faultproxy.Stall, pgCommit.match)
	o := e.requestUnderFault(t, p)
	<-fired
	t.Logf("the cut-off replica: %v after %v", o.err, o.elapsed.Round(time.Millisecond))
	defer e.heal(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := other.svc.GetInternalToken(ctx, p, e.service, e.scopes, "192.0.2.8", 0); err != nil {
		t.Fatalf("another replica, with both stores up, got no child: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("another replica got the child after %v", time.Since(start).Round(time.Millisecond))

	// Gafaelfawr revoking the parent.
	tx, err := b.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM token WHERE token = $1 FOR UPDATE", p.Token.Key); err != nil {
		t.Errorf("a revocation of the parent waits for the stranded transaction: %v", err)
	}
}

// TestIntegrationFoundChildNotHeldByItsRollback: a child found in the
// repository is handed out though the ROLLBACK that ends the look-up's
// transaction gets no answer: the rollback is bounded on its own (the
// clean-up attempt's bound), not by the creation timeout.
func TestIntegrationFoundChildNotHeldByItsRollback(t *testing.T) {
	b := newFaultBase(t)
	e := newFaultEnv(t, b, func(c *app.Config) { c.CreationTimeout = 5 * time.Second })
	p := e.addParent(t, 7*24*time.Hour)
	t.Cleanup(func() { e.removeOrphans(t, p.Username) })
	want := e.internal(t, p, e.service, e.scopes)
	if err := e.svc.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	fired := e.postgres.Inject(faultproxy.Stall, pgRoll.match)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	got, err := e.request(ctx, p)
	elapsed := time.Since(start)
	select {
	case <-fired:
	default:
		t.Fatalf("the ROLLBACK was never sent (request: %v)", err)
	}
	e.heal(t)
	e.waitForCleanups(t)
	if err != nil || got != want {
		t.Errorf("the child found in the repository, %s, was not handed out within 2s: got %q, %v after %v",
			want.Key, got.Key, err, elapsed.Round(time.Millisecond))
	}
	e.checkStoresAgree(t, p.Username)
}

// TestIntegrationCachedReadIsBounded: reading a cached child from a Redis
// that stopped answering ends within the creation timeout even for a
// caller without a deadline, not after the client's read timeouts and
// retries.
func TestIntegrationCachedReadIsBounded(t *testing.T) {
	b := newFaultBase(t)
	e := newFaultEnv(t, b, func(c *app.Config) { c.CreationTimeout = time.Second })
	p := e.addParent(t, 7*24*time.Hour)
	t.Cleanup(func() { e.removeOrphans(t, p.Username) })
	e.internal(t, p, e.service, e.scopes)
	fired := e.redis.Inject(faultproxy.Stall, redisGet.match)
	defer e.heal(t)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := e.request(context.Background(), p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a cached child was read from a Redis that does not answer")
		}
		t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Error("a request for a cached child still waits on a silent Redis after 5s (creation timeout 1s)")
		e.heal(t)
		<-done
	}
	<-fired
}
