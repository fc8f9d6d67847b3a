package app_test

import (
	"context"
	"testing"
	"time"

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
	pgBegin  = faultStep{"PostgresBEGIN", onPostgres, faultproxy.Contains("BEGIN")}
	pgLock   = faultStep{"PostgresLock", onPostgres, faultproxy.Contains("pg_advisory_xact_lock")}
	pgFind   = faultStep{"PostgresFind", onPostgres, pgStatement("FROM subtoken s JOIN token t", "fault-portal")}
	pgToken  = faultStep{"PostgresInsertToken", onPostgres, faultproxy.Contains("INSERT INTO token\n")}
	pgLink   = faultStep{"PostgresInsertSubtoken", onPostgres, faultproxy.Contains("INSERT INTO subtoken")}
	pgHist   = faultStep{"PostgresInsertHistory", onPostgres, faultproxy.Contains("INSERT INTO token_change_history")}
	pgCommit = faultStep{"PostgresCOMMIT", onPostgres, faultproxy.Contains("COMMIT")}
	pgRoll   = faultStep{"PostgresROLLBACK", onPostgres, faultproxy.Contains("ROLLBACK")}
)

// pgStatement matches a statement with arguments by its text, which goes
// out when a connection first runs it (the PostgreSQL adapter then
// prepares it), or, once prepared, by a run of it (a Bind message) with
// arg among its arguments.
func pgStatement(text, arg string) faultproxy.Matcher {
	byText, byArg := faultproxy.Contains(text), faultproxy.Contains(arg)
	return func(chunk []byte) bool {
		return byText(chunk) || len(chunk) > 0 && chunk[0] == 'B' && byArg(chunk)
	}
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
		steps: []faultStep{pgBegin, pgLock, pgFind, redisGet, pgRoll},
	},
	{
		name:    "Creation",
		prepare: func(*testing.T, *faultEnv, domain.TokenData) {},
		steps:   []faultStep{pgBegin, pgLock, pgFind, redisSet, pgToken, pgLink, pgHist, pgCommit},
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
