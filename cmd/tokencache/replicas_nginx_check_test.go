package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/lib/pq"

	"github.com/tokencache/tokencache/domain"
)

// authAttempt is one auth subrequest in nginx's log: the replicas it went
// to, in order, and what each answered.
type authAttempt struct {
	at       time.Time // when nginx logged it, at its end
	status   string    // what nginx made of it
	replicas []string
	statuses []string
}

// authLogLine is a line of the tokencache_auth log format.
type authLogLine struct {
	Msec           string `json:"msec"`
	URI            string `json:"uri"`
	Status         string `json:"status"`
	Upstream       string `json:"upstream"`
	UpstreamStatus string `json:"upstream_status"`
}

// readAuthLog returns the auth subrequests in nginx's access log at path,
// once it holds a line for each of the answered client requests: nginx
// writes a request's line after it has sent the answer.
func readAuthLog(t *testing.T, path string, answered int) []authAttempt {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		attempts, requests := parseAuthLog(t, path)
		if requests >= answered {
			return attempts
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx logged %d client requests within 10s of the load's end, want %d", requests, answered)
		}
		time.Sleep(20 * time.Millisecond) // polling a file nginx appends to
	}
}

// parseAuthLog reads the log at path: its auth subrequests, and how many
// client requests it holds.
func parseAuthLog(t *testing.T, path string) (attempts []authAttempt, requests int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line authLogLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue // a line nginx is still writing
		}
		if line.URI != "/auth/tokencache" {
			requests++
			continue
		}
		secs, err := strconv.ParseFloat(line.Msec, 64)
		if err != nil {
			t.Fatalf("nginx log line %s: %v", sc.Text(), err)
		}
		attempts = append(attempts, authAttempt{
			at:       time.UnixMilli(int64(secs * 1000)),
			status:   line.Status,
			replicas: strings.Split(line.Upstream, ", "),
			statuses: strings.Split(line.UpstreamStatus, ", "),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return attempts, requests
}

// checkNginxAttempts checks what nginx met at the replicas: failures only
// at the killed one and after the kill (at least one, or the kill went
// unseen), and both others answering after it.
func checkNginxAttempts(t *testing.T, r *replicaRun, attempts []authAttempt, killed string, survivors []string) {
	t.Helper()
	// nginx reads the clock once per event loop turn: its times may lag.
	const lag = 100 * time.Millisecond
	failed, retried, bad := 0, 0, 0
	answeredAfter := map[string]int{}
	for _, a := range attempts {
		if len(a.replicas) != len(a.statuses) {
			t.Fatalf("nginx logged replicas %v with statuses %v", a.replicas, a.statuses)
		}
		if len(a.replicas) > 1 {
			retried++
		}
		for i, replica := range a.replicas {
			switch {
			case a.statuses[i] == "200":
				if a.at.After(r.killedAt) {
					answeredAfter[replica]++
				}
			case replica == killed && a.at.After(r.killAt.Add(-lag)):
				failed++
			default:
				if bad++; bad <= 10 {
					t.Errorf("nginx met %s at %s, %v after the kill (not the killed replica %s, or before its kill)",
						a.statuses[i], replica, a.at.Sub(r.killAt).Round(time.Millisecond), killed)
				}
			}
		}
	}
	t.Logf("nginx: %d auth requests, %d sent to another replica after a failure, %d failures at the killed replica; "+
		"answers after the kill: %v", len(attempts), retried, failed, answeredAfter)
	if failed == 0 {
		t.Error("nginx met no failure at the killed replica: the kill went unseen")
	}
	for _, s := range survivors {
		if answeredAfter[s] < 20 {
			t.Errorf("replica %s answered %d auth requests after the kill, want at least 20", s, answeredAfter[s])
		}
	}
}

// checkOneChildEach checks the stores once the daemons have stopped:
// exactly one child in PostgreSQL for each (parent, kind, service, scopes)
// asked for and none for any other, each in Redis, every request for it
// answered with it; and few children in Redis without their rows.
func checkOneChildEach(t *testing.T, s *realStores, parents []soakParent, results []replicaResult) {
	t.Helper()
	ctx := context.Background()
	handed := map[soakGroup]map[string]bool{}
	for _, res := range results {
		if res.err != nil || res.status != 200 {
			continue
		}
		tok, err := domain.ParseToken(res.token)
		if err != nil {
			continue // reported with the answers
		}
		k := replicaKinds[res.kind]
		g := soakGroup{parents[res.parent].token.Key, k.tokenType, k.service, k.scopes}
		if handed[g] == nil {
			handed[g] = map[string]bool{}
		}
		handed[g][tok.Key] = true
	}
	keys := make([]string, len(parents))
	for i, p := range parents {
		keys[i] = p.token.Key
	}
	rows, err := s.db.QueryContext(ctx, `SELECT t.token, s.parent, t.token_type, coalesce(t.service, ''), t.scopes
		FROM subtoken s JOIN token t ON t.token = s.child WHERE s.parent = ANY($1)`, pq.Array(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	children := map[soakGroup][]string{}
	withRows := map[string]bool{}
	for rows.Next() {
		var key string
		var g soakGroup
		if err := rows.Scan(&key, &g.parent, &g.tokenType, &g.service, &g.scopes); err != nil {
			t.Fatal(err)
		}
		children[g] = append(children[g], key)
		withRows[key] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	bad := 0
	report := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for g, got := range handed {
		if len(children[g]) != 1 {
			report("%d children in PostgreSQL for %+v, want 1", len(children[g]), g)
			continue
		}
		for key := range got {
			if key != children[g][0] {
				report("a request for %+v got %s, not its one child %s", g, key, children[g][0])
			}
		}
	}
	for g, keys := range children {
		if handed[g] == nil {
			report("%d children in PostgreSQL for %+v, which no answer handed out", len(keys), g)
		}
		for _, key := range keys {
			if n, err := s.rdb.Exists(ctx, "token:"+key).Result(); err != nil || n != 1 {
				report("child %s of %+v is not in Redis (exists %d, %v)", key, g, n, err)
			}
		}
	}
	orphans := 0
	for key, typ := range tokensOf(t, s) {
		if typ != "user" && !withRows[key] {
			orphans++
		}
	}
	t.Logf("%d children (one per parent, kind, service and scopes asked for), %d children in Redis without rows",
		len(withRows), orphans)
	// Only the killed daemon can have left one: a creation between its
	// Redis write and its commit, whose clean-up died with it.
	if orphans > replicaWorkers {
		t.Errorf("%d children in Redis without rows, more than the %d requests that can have been in flight at the killed daemon",
			orphans, replicaWorkers)
	}
	if bad > 10 {
		t.Errorf("... %d such problems in all", bad)
	}
}

// tokensOf scans Redis for every token that s's session secret can open
// (the test's own, its secret being fresh) and returns their types by key.
func tokensOf(t *testing.T, s *realStores) map[string]string {
	t.Helper()
	ctx := context.Background()
	secret := fernet.MustDecodeKeys(s.secret)
	out := map[string]string{}
	var keys []string
	flush := func() {
		if len(keys) == 0 {
			return
		}
		values, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			sealed, ok := v.(string)
			if !ok {
				continue // expired meanwhile
			}
			plain := fernet.VerifyAndDecrypt([]byte(sealed), 0, secret)
			if plain == nil {
				continue // another test's
			}
			var data struct {
				TokenType string `json:"token_type"`
			}
			if err := json.Unmarshal(plain, &data); err != nil {
				t.Fatalf("token data of %s: %v", keys[i], err)
			}
			out[strings.TrimPrefix(keys[i], "token:")] = data.TokenType
		}
		keys = keys[:0]
	}
	iter := s.rdb.Scan(ctx, 0, "token:*", 1000).Iterator()
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 500 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return out
}

// removeTokensOf deletes the test's tokens from Redis.
func removeTokensOf(t *testing.T, s *realStores) {
	t.Helper()
	for key := range tokensOf(t, s) {
		_ = s.rdb.Del(context.Background(), "token:"+key).Err()
	}
}
