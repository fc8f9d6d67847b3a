package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/domain"
)

// Children that a Python Gafaelfawr left in the stores are reused wherever
// Gafaelfawr, configured alike, would reuse them, rather than duplicated.

func TestIntegrationGafaelfawrPre12InternalChildIsReused(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	now := time.Now().UTC().Truncate(time.Second)
	// Before Gafaelfawr 12.0, an internal token's service was only in its
	// database rows: Redis has no service field, which reads as "".
	child := e.addGafaelfawrChild(t, p, gafaelfawrChild{
		typ: domain.TokenTypeInternal, service: "portal", scopes: []string{"read:all"},
		created: now.Add(-time.Hour), expires: now.Add(23 * time.Hour), pre12: true,
	})

	if got := e.internal(t, p, "portal", []string{"read:all"}); got != child {
		t.Fatalf("got %s, want the pre-12.0 child %s found in the database", got.Key, child.Key)
	}
	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows after the database lookup, want 1 (no duplicate)", n)
	}

	// Unlinked from its parent in the database, only the in-process cache
	// can still hand it out: a rejected cache hit would make a new child.
	e.db.MustExecContext(ctx, `DELETE FROM subtoken WHERE child = $1`, child.Key)
	if got := e.internal(t, p, "portal", []string{"read:all"}); got != child {
		t.Fatalf("got %s, want the pre-12.0 child %s from the cache", got.Key, child.Key)
	}
	if n := e.children(t, p.Token.Key); n != 0 {
		t.Fatalf("%d child rows after the cache hit, want 0 (no new child)", n)
	}
}

func TestIntegrationGafaelfawrChildFoundInDatabaseIsReusedPastHalfLife(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		typ     domain.TokenType
		service string
		scopes  []string
	}{
		{name: "internal", typ: domain.TokenTypeInternal, service: "portal", scopes: []string{"read:all"}},
		{name: "notebook", typ: domain.TokenTypeNotebook, scopes: []string{"exec:notebook", "read:all", "read:tap"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The lookup's cut-off is now plus half of 10 days. A 30-day
			// child with 7 days left passes it, and Gafaelfawr hands it out
			// without asking how much of its own lifetime has passed.
			e := newRealEnvWithLifetime(t, 240*time.Hour)
			p := e.addParent(t, 20*24*time.Hour)
			now := time.Now().UTC().Truncate(time.Second)
			created := now.Add(-23 * 24 * time.Hour)
			child := e.addGafaelfawrChild(t, p, gafaelfawrChild{
				typ: tt.typ, service: tt.service, scopes: tt.scopes,
				created: created, expires: created.Add(30 * 24 * time.Hour),
			})
			for i := range 2 {
				got, err := e.request(p, tt.typ, tt.service, tt.scopes, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got != child {
					t.Fatalf("request %d: got %s, want the child %s with 7 of 30 days left", i+1, got.Key, child.Key)
				}
			}
			if n := e.children(t, p.Token.Key); n != 1 {
				t.Fatalf("%d child rows, want 1 (no duplicate)", n)
			}
		})
	}
}

func TestIntegrationGafaelfawrNotebookChildReusedWithIngressMinimumLifetime(t *testing.T) {
	t.Parallel()
	// Gafaelfawr's default token lifetime, and the minimum lifetime its
	// ingress asks for: a child with 10 of 30 days left is good for it.
	e := newRealEnvWithLifetime(t, 30*24*time.Hour)
	p := e.addParent(t, 20*24*time.Hour)
	now := time.Now().UTC().Truncate(time.Second)
	created := now.Add(-20 * 24 * time.Hour)
	child := e.addGafaelfawrChild(t, p, gafaelfawrChild{
		typ: domain.TokenTypeNotebook, scopes: p.Scopes,
		created: created, expires: created.Add(30 * 24 * time.Hour),
	})
	for i := range 2 { // from the database, then from the cache
		got, err := e.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 300*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got != child {
			t.Fatalf("request %d: got %s, want the child %s with 10 of 30 days left", i+1, got.Key, child.Key)
		}
	}
	if n := e.children(t, p.Token.Key); n != 1 {
		t.Fatalf("%d child rows, want 1 (no duplicate)", n)
	}
}

// request asks the service for p's child of type typ (for internal tokens,
// for service with scopes).
func (e *realEnv) request(p domain.TokenData, typ domain.TokenType, service string, scopes []string, minimumLifetime time.Duration) (domain.Token, error) {
	if typ == domain.TokenTypeNotebook {
		return e.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", minimumLifetime)
	}
	return e.svc.GetInternalToken(context.Background(), p, service, scopes, "192.0.2.1", minimumLifetime)
}

// gafaelfawrChild describes a child token as a Python Gafaelfawr made it.
type gafaelfawrChild struct {
	typ              domain.TokenType
	service          string // internal only
	scopes           []string
	created, expires time.Time // whole seconds
	// pre12 writes Redis as Gafaelfawr did before 12.0: no service field,
	// and a quota field (null).
	pre12 bool
}

// addGafaelfawrChild writes c as a child of p straight into both stores,
// as Gafaelfawr does: Python's JSON, sealed with the session secret, with a
// TTL until expiry; then its token, subtoken and history rows. It returns
// the child's token; the rows and key go with p's user.
func (e *realEnv) addGafaelfawrChild(t *testing.T, p domain.TokenData, c gafaelfawrChild) domain.Token {
	t.Helper()
	ctx := context.Background()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fields := pyObject{
		{"username", p.Username},
		{"token_type", string(c.typ)},
		{"scopes", c.scopes},
		{"created", c.created.Unix()},
		{"expires", c.expires.Unix()},
		{"name", p.Name},
		{"email", p.Email},
		{"uid", p.UID},
		{"gid", p.GID},
		{"groups", pyGroups(p.Groups)},
	}
	if c.pre12 {
		fields = append(fields, pyField{"quota", nil})
	} else {
		var service any // null for a notebook token
		if c.service != "" {
			service = c.service
		}
		fields = append(fields, pyField{"service", service})
	}
	fields = append(fields, pyField{"token", pyObject{{"key", tok.Key}, {"secret", tok.Secret}}})
	keys := fernet.MustDecodeKeys(e.cfg.SessionSecret)
	sealed, err := fernet.EncryptAndSign([]byte(pythonJSON(t, fields)), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	ttl := time.Until(c.expires).Truncate(time.Second)
	if err := e.raw.Set(ctx, "token:"+tok.Key, sealed, ttl).Err(); err != nil {
		t.Fatal(err)
	}

	var service *string // NULL for a notebook token
	if c.service != "" {
		service = &c.service
	}
	scopes := strings.Join(c.scopes, ",")
	e.db.MustExecContext(ctx, `INSERT INTO token
		(token, username, token_type, token_name, scopes, service, created, last_used, expires)
		VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, $7)`,
		tok.Key, p.Username, string(c.typ), scopes, service, c.created, c.expires)
	e.db.MustExecContext(ctx, `INSERT INTO subtoken (child, parent) VALUES ($1, $2)`, tok.Key, p.Token.Key)
	e.db.MustExecContext(ctx, `INSERT INTO token_change_history
		(token, username, token_type, parent, scopes, service, expires, actor, action, ip_address, event_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $2, 'create', '10.0.0.1', $8)`,
		tok.Key, p.Username, string(c.typ), p.Token.Key, scopes, service, c.expires, c.created)
	return tok
}

// pyObject is a JSON object whose fields keep their order.
type pyObject []pyField

type pyField struct {
	name  string
	value any
}

func pyGroups(groups []domain.Group) []pyObject {
	out := make([]pyObject, len(groups))
	for i, g := range groups {
		out[i] = pyObject{{"name", g.Name}, {"id", g.ID}}
	}
	return out
}

// pythonJSON renders v as Python's json.dumps does by default, with ", "
// between items and ": " after names, which Go's encoder never writes.
func pythonJSON(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case pyObject:
		parts := make([]string, len(v))
		for i, f := range v {
			parts[i] = pythonJSON(t, f.name) + ": " + pythonJSON(t, f.value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []pyObject:
		parts := make([]string, len(v))
		for i, o := range v {
			parts[i] = pythonJSON(t, o)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = pythonJSON(t, s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIntegrationReusesPastManyRevokedCandidates: the parent's one child
// that Redis holds is its oldest, and more than the old bound of eight
// later ones, expiring later, lost their Redis entries while their rows
// stayed. Gafaelfawr's lookup (LIMIT 1, no ORDER BY) may pick the oldest
// and reuse it; the lookups here pass over the others to reach it rather
// than make another child.
func TestIntegrationReusesPastManyRevokedCandidates(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	p := e.addParent(t, 7*24*time.Hour)
	now := time.Now().UTC().Truncate(time.Second)
	valid := e.addGafaelfawrChild(t, p, gafaelfawrChild{
		typ: domain.TokenTypeInternal, service: "portal", scopes: []string{"read:all"},
		created: now.Add(-2 * time.Hour), expires: now.Add(22 * time.Hour),
	})
	const revoked = 20
	for i := range revoked {
		c := e.addGafaelfawrChild(t, p, gafaelfawrChild{
			typ: domain.TokenTypeInternal, service: "portal", scopes: []string{"read:all"},
			created: now.Add(-time.Hour + time.Duration(i)*time.Minute), expires: now.Add(23*time.Hour + time.Duration(i)*time.Minute),
		})
		if err := e.raw.Del(ctx, "token:"+c.Key).Err(); err != nil { // revoked from Redis only
			t.Fatal(err)
		}
	}
	got, err := e.svc.GetInternalToken(ctx, p, "portal", []string{"read:all"}, "192.0.2.1", 300*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got != valid {
		t.Errorf("made a new child %s past %d revoked candidates, want the one Redis holds, %s (%d child rows now)",
			got.Key, revoked, valid.Key, e.children(t, p.Token.Key))
	}
}
