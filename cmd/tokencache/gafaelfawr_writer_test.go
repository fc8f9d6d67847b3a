package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
)

// realStores are the integration Redis and PostgreSQL with Gafaelfawr's
// schema, a fresh session secret, and the environment that points the
// binary at them.
type realStores struct {
	secret string
	env    []string
	rdb    *goredis.Client
	db     *sql.DB
}

func newRealStores(t *testing.T) *realStores {
	t.Helper()
	redisURL, databaseURL := integration.RedisURL(t), integration.DatabaseURL(t)
	s := &realStores{secret: newSessionSecret(t), rdb: openRedis(t, redisURL), db: openDatabase(t, databaseURL)}
	s.env = []string{
		envRedisURL + "=" + redisURL,
		envDatabaseURL + "=" + databaseURL,
		envSessionSecret + "=" + s.secret,
	}
	if stdout, stderr, code := runBinary(t, s.env, "migrate"); code != exitOK {
		t.Fatalf("migrate exited with %d: %s%s", code, stdout, stderr)
	}
	return s
}

// gafaelfawrToken is a token as Gafaelfawr writes it: json is the
// plaintext it seals into Redis, exactly as given (so a test can write the
// formats of old releases), and the other fields make its rows.
type gafaelfawrToken struct {
	token     domain.Token
	username  string
	tokenType string
	service   string // the row's service; "" is NULL
	scopes    string // the row's scopes, joined by commas
	parent    string // key of the parent, or "" for none
	created   time.Time
	expires   time.Time
	json      string
}

// newGafaelfawrKey returns a fresh token and a username unique to it.
func newGafaelfawrKey(t *testing.T, prefix string) (domain.Token, string) {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok, prefix + "-" + strings.ToLower(tok.Key[:8])
}

// write puts tok into Redis (with its TTL) and PostgreSQL (its row, its
// link to the parent, and its history entry), as Gafaelfawr does.
func (s *realStores) write(t *testing.T, tok gafaelfawrToken) {
	t.Helper()
	ctx := context.Background()
	key := fernet.MustDecodeKeys(s.secret)
	sealed, err := fernet.EncryptAndSign([]byte(tok.json), key[0])
	if err != nil {
		t.Fatal(err)
	}
	ttl := time.Until(tok.expires).Truncate(time.Second)
	if err := s.rdb.Set(ctx, "token:"+tok.token.Key, sealed, ttl).Err(); err != nil {
		t.Fatal(err)
	}
	service := sql.NullString{String: tok.service, Valid: tok.service != ""}
	parent := sql.NullString{String: tok.parent, Valid: tok.parent != ""}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(`INSERT INTO token (token, username, token_type, scopes, service, created, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		tok.token.Key, tok.username, tok.tokenType, tok.scopes, service, tok.created.UTC(), tok.expires.UTC())
	if parent.Valid {
		exec(`INSERT INTO subtoken (child, parent) VALUES ($1, $2)`, tok.token.Key, parent)
	}
	exec(`INSERT INTO token_change_history
		(token, username, token_type, parent, scopes, service, expires, actor, action, ip_address, event_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $2, 'create', '192.0.2.1', $8)`,
		tok.token.Key, tok.username, tok.tokenType, parent, tok.scopes, service, tok.expires.UTC(), tok.created.UTC())
}

// children counts the children of parent of the given type, and for
// internal ones of the given service.
func (s *realStores) children(t *testing.T, parent domain.Token, tokenType, service string) int {
	t.Helper()
	return count(t, s.db, `SELECT count(*) FROM subtoken s JOIN token t ON s.child = t.token
		WHERE s.parent = $1 AND t.token_type = $2 AND coalesce(t.service, '') = $3`,
		parent.Key, tokenType, service)
}

// ipAddressOf returns the address recorded in the history entry that
// created token.
func (s *realStores) ipAddressOf(t *testing.T, token domain.Token) string {
	t.Helper()
	var ip sql.NullString
	err := s.db.QueryRowContext(context.Background(),
		"SELECT host(ip_address) FROM token_change_history WHERE token = $1 AND action = 'create'", token.Key).Scan(&ip)
	if err != nil {
		t.Fatalf("history of %s: %v", token.Key, err)
	}
	return ip.String
}
