package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/domain"
)

// Compatibility with Gafaelfawr: a parent written as Gafaelfawr writes it
// serves as a parent, and the child this module writes is what Gafaelfawr
// would have written.

func TestIntegrationGafaelfawrParentAndChildFormats(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	ctx := context.Background()
	tok, _ := domain.NewToken(rand.Reader)
	username := "gf-" + tok.Key[:8]
	created := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	expires := created.Add(48 * time.Hour)
	t.Cleanup(func() { e.removeUser(username) })

	// The parent, as Gafaelfawr's session creation leaves it.
	parentJSON := map[string]any{
		"username": username, "name": nil, "email": "gf@example.com", "uid": 7001, "gid": nil,
		"groups":     []map[string]any{{"name": "g_gf", "id": 7001}},
		"token_type": "session", "service": nil,
		"scopes":  []string{"exec:notebook", "read:all"},
		"created": created.Unix(), "expires": expires.Unix(),
		"token": map[string]string{"key": tok.Key, "secret": tok.Secret},
	}
	plain, err := json.Marshal(parentJSON)
	if err != nil {
		t.Fatal(err)
	}
	key := fernet.MustDecodeKeys(e.cfg.SessionSecret)
	sealed, err := fernet.EncryptAndSign(plain, key[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.raw.Set(ctx, "token:"+tok.Key, sealed, time.Until(expires).Truncate(time.Second)).Err(); err != nil {
		t.Fatal(err)
	}
	e.db.MustExecContext(ctx, `INSERT INTO token (token, username, token_type, scopes, created, expires)
		VALUES ($1, $2, 'session', 'exec:notebook,read:all', $3, $4)`, tok.Key, username, created, expires)
	e.db.MustExecContext(ctx, `INSERT INTO token_change_history
		(token, username, token_type, scopes, expires, actor, action, ip_address, event_time)
		VALUES ($1, $2, 'session', 'exec:notebook,read:all', $3, $2, 'create', '10.0.0.1', $4)`,
		tok.Key, username, expires, created)

	// The daemon reads parents with the full token, checking the secret.
	parent, err := e.store.Get(ctx, tok)
	if err != nil {
		t.Fatalf("reading a Gafaelfawr parent: %v", err)
	}
	child, err := e.svc.GetInternalToken(ctx, parent, "portal", []string{"read:all"}, "2001:db8::5", 0)
	if err != nil {
		t.Fatalf("child of a Gafaelfawr parent: %v", err)
	}

	// Redis: exactly Gafaelfawr's JSON.
	value, err := e.raw.Get(ctx, "token:"+child.Key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	childPlain := fernet.VerifyAndDecrypt(value, 0, key)
	if childPlain == nil {
		t.Fatal("the child's Redis value does not decrypt with the session secret")
	}
	var got map[string]any
	if err := json.Unmarshal(childPlain, &got); err != nil {
		t.Fatal(err)
	}
	childData, err := e.store.Get(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"username": username, "name": nil, "email": "gf@example.com", "uid": 7001.0, "gid": nil,
		"groups":     []any{map[string]any{"name": "g_gf", "id": 7001.0}},
		"token_type": "internal", "service": "portal",
		"scopes":  []any{"read:all"},
		"created": float64(childData.Created.Unix()), "expires": float64(childData.Created.Add(24 * time.Hour).Unix()),
		"token": map[string]any{"key": child.Key, "secret": child.Secret},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("child JSON\n%v\nwant\n%v", got, want)
	}
	ttl, err := e.raw.TTL(ctx, "token:"+child.Key).Result()
	if err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("child TTL = %v, %v; want just under the 24h token lifetime", ttl, err)
	}

	// PostgreSQL: the rows Gafaelfawr writes.
	var row struct {
		Username, TokenType, Scopes, Service string
		Created, Expires                     time.Time
		Parent                               string
	}
	if err := e.db.QueryRowxContext(ctx, `SELECT t.username, t.token_type::text, t.scopes, t.service,
		t.created, t.expires, s.parent
		FROM token t JOIN subtoken s ON s.child = t.token WHERE t.token = $1`, child.Key).
		Scan(&row.Username, &row.TokenType, &row.Scopes, &row.Service, &row.Created, &row.Expires, &row.Parent); err != nil {
		t.Fatal(err)
	}
	if row.Username != username || row.TokenType != "internal" || row.Scopes != "read:all" || row.Service != "portal" ||
		!row.Created.Equal(childData.Created) || !row.Expires.Equal(childData.Expires) || row.Parent != tok.Key {
		t.Fatalf("token row = %+v", row)
	}
	var hist struct{ Actor, Action, IP, Parent string }
	var eventTime time.Time
	if err := e.db.QueryRowxContext(ctx, `SELECT actor, action::text, host(ip_address), parent, event_time
		FROM token_change_history WHERE token = $1`, child.Key).
		Scan(&hist.Actor, &hist.Action, &hist.IP, &hist.Parent, &eventTime); err != nil {
		t.Fatal(err)
	}
	if hist.Actor != username || hist.Action != "create" || hist.IP != "2001:db8::5" || hist.Parent != tok.Key ||
		!eventTime.Equal(childData.Created) {
		t.Fatalf("history row = %+v at %v", hist, eventTime)
	}
}
