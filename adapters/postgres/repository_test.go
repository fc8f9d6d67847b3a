package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

func TestAddTokenWritesGafaelfawrRows(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	parent := sessionRecord(t, 24*time.Hour)
	// A creation time off UTC and between seconds: stored as the UTC wall
	// clock in whole seconds.
	parent.Data.Created = time.Date(2026, 11, 28, 1, 30, 15, 987654321, time.FixedZone("PST", -8*3600))
	parent.Data.Expires = parent.Data.Created.Add(24 * time.Hour)
	child := childRecord(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all", "exec:notebook"}, time.Hour)
	child.Data.Created = parent.Data.Created
	child.Data.Expires = child.Data.Created.Add(time.Hour)
	mustAdd(t, db, parent, child)

	pk, ck := parent.Data.Token.Key, child.Data.Token.Key
	tests := []struct {
		name  string
		table string
		key   string
		want  string
	}{
		{"parent token", "token", pk, `{"token": "` + pk + `", "created": "2026-11-28T09:30:15", "scopes": "exec:notebook,read:all,user:token", ` +
			`"expires": "2026-11-29T09:30:15", "service": null, "username": "pgtest-user", "last_used": null, "token_name": null, "token_type": "session"}`},
		{"parent has no link", "subtoken", pk, ``},
		{"parent history", "token_change_history", pk, `{"actor": "pgtest-user", "token": "` + pk + `", "action": "create", "parent": null, ` +
			`"scopes": "exec:notebook,read:all,user:token", "expires": "2026-11-29T09:30:15", "service": null, "username": "pgtest-user", ` +
			`"event_time": "2026-11-28T09:30:15", "ip_address": "192.0.2.10", "old_scopes": null, "token_name": null, "token_type": "session", ` +
			`"old_expires": null, "old_token_name": null}`},
		{"child token", "token", ck, `{"token": "` + ck + `", "created": "2026-11-28T09:30:15", "scopes": "exec:notebook,read:all", ` +
			`"expires": "2026-11-28T10:30:15", "service": "portal", "username": "pgtest-user", "last_used": null, "token_name": null, "token_type": "internal"}`},
		{"child link", "subtoken", ck, `{"child": "` + ck + `", "parent": "` + pk + `"}`},
		{"child history", "token_change_history", ck, `{"actor": "pgtest-user", "token": "` + ck + `", "action": "create", "parent": "` + pk + `", ` +
			`"scopes": "exec:notebook,read:all", "expires": "2026-11-28T10:30:15", "service": "portal", "username": "pgtest-user", ` +
			`"event_time": "2026-11-28T09:30:15", "ip_address": "2001:db8::1", "old_scopes": null, "token_name": null, "token_type": "internal", ` +
			`"old_expires": null, "old_token_name": null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowJSON(t, db, tt.table, tt.key, "id"); !jsonEqual(t, got, tt.want) {
				t.Errorf("%s row:\n got %s\nwant %s", tt.table, got, tt.want)
			}
		})
	}
}

func TestAddTokenNullsForUnsetFields(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	rec := sessionRecord(t, 0)
	rec.Data.Expires = time.Time{}
	rec.Data.Scopes = nil
	rec.Actor, rec.IPAddress = "", ""
	mustAdd(t, db, rec)
	key := rec.Data.Token.Key
	want := `{"scopes": "", "expires": null, "service": null}`
	if got := rowJSON(t, db, "token", key, "token", "created", "username", "last_used", "token_name", "token_type"); !jsonEqual(t, got, want) {
		t.Errorf("token row = %s, want %s", got, want)
	}
	want = `{"actor": null, "scopes": "", "expires": null, "ip_address": null}`
	if got := rowJSON(t, db, "token_change_history", key, "id", "token", "action", "parent", "service", "username",
		"event_time", "old_scopes", "token_name", "token_type", "old_expires", "old_token_name"); !jsonEqual(t, got, want) {
		t.Errorf("history row = %s, want %s", got, want)
	}
}

func TestAddTokenNeverStoresTheSecret(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	parent := sessionRecord(t, time.Hour)
	child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	mustAdd(t, db, parent, child)
	for _, rec := range []domain.TokenRecord{parent, child} {
		for _, table := range []string{"token", "subtoken", "token_change_history"} {
			if row := rowJSON(t, db, table, rec.Data.Token.Key); strings.Contains(row, rec.Data.Token.Secret) {
				t.Errorf("%s row holds the token's secret", table)
			}
		}
	}
}

func TestAddTokenUnknownParent(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	missing := sessionRecord(t, time.Hour)
	orphan := childRecord(t, missing, domain.TokenTypeInternal, "portal", []string{"read:all"}, time.Hour)
	cleanupTokens(t, db, orphan.Data.Token.Key)

	tx := mustBegin(t, repo, newLock(t))
	err := tx.AddToken(ctx, orphan)
	if !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("AddToken with an unknown parent = %v, want ErrInvalidToken", err)
	}
	if strings.Contains(err.Error(), orphan.Data.Token.Secret) {
		t.Errorf("error reveals the secret: %v", err)
	}
	// PostgreSQL aborted the transaction: committing it adds nothing.
	if err := tx.Commit(ctx); err == nil {
		t.Error("Commit after a failed AddToken succeeded")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("Rollback: %v", err)
	}
	for _, table := range []string{"token", "subtoken", "token_change_history"} {
		if row := rowJSON(t, db, table, orphan.Data.Token.Key); row != "" {
			t.Errorf("%s row written for the orphan: %s", table, row)
		}
	}
}

func TestFindChild(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	parent := sessionRecord(t, 24*time.Hour)
	other := sessionRecord(t, 24*time.Hour)
	readAll := []string{"read:all"}
	want := childRecord(t, parent, domain.TokenTypeInternal, "portal", readAll, time.Hour)
	twoScopes := childRecord(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all", "exec:notebook"}, 2*time.Hour)
	noScopes := childRecord(t, parent, domain.TokenTypeInternal, "portal", nil, 2*time.Hour)
	// Gafaelfawr's notebook lookup filters neither service nor scopes, so
	// neither does this one: this child has a service and scopes that no
	// query below asks for.
	notebook := childRecord(t, parent, domain.TokenTypeNotebook, "jupyter", []string{"exec:notebook"}, 2*time.Hour)
	mustAdd(t, db, parent, other, want, twoScopes, noScopes, notebook,
		childRecord(t, parent, domain.TokenTypeInternal, "other", readAll, 2*time.Hour),
		childRecord(t, other, domain.TokenTypeInternal, "portal", readAll, 2*time.Hour),
		childRecord(t, other, domain.TokenTypeNotebook, "", parent.Data.Scopes, 3*time.Hour),
	)

	internal := func(scopes []string, minExpiration time.Duration) domain.ChildQuery {
		return domain.ChildQuery{
			ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: scopes, MinExpiration: testCreated.Add(minExpiration),
		}
	}
	tests := []struct {
		name string
		q    domain.ChildQuery
		want string // "" = ErrNotFound
	}{
		{"internal", internal(readAll, 30*time.Minute), want.Data.Token.Key},
		{"expiry equal to the bound", internal(readAll, time.Hour), want.Data.Token.Key},
		{"expiry before the bound", internal(readAll, time.Hour+time.Second), ""},
		{"expiry a microsecond before the bound", internal(readAll, time.Hour+time.Microsecond), ""},
		{"scopes exactly, in any order", internal([]string{"read:all", "exec:notebook"}, 0), twoScopes.Data.Token.Key},
		{"no scopes", internal(nil, 0), noScopes.Data.Token.Key},
		{"scopes nobody has", internal([]string{"admin:token"}, 0), ""},
		{"another service", domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal,
			Service: "nowhere", Scopes: readAll, MinExpiration: testCreated}, ""},
		{"notebook ignores service and scopes", domain.ChildQuery{ParentKey: parent.Data.Token.Key,
			Type: domain.TokenTypeNotebook, Service: "portal", Scopes: readAll, MinExpiration: testCreated}, notebook.Data.Token.Key},
		{"type", domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeService,
			MinExpiration: testCreated}, ""},
		{"unknown parent", domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook,
			MinExpiration: testCreated}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustFind(t, repo, tt.q)
			if tt.want == "" {
				if !errors.Is(err, ports.ErrNotFound) {
					t.Fatalf("FindChild = %q, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindChild = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFindChildPrefersLatestExpiryThenSmallestKey(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	parent := sessionRecord(t, 24*time.Hour)
	short := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	longA := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, 3*time.Hour)
	longB := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, 3*time.Hour)
	mid := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, 2*time.Hour)
	mustAdd(t, db, parent, short, longA, mid, longB)
	want := min(longA.Data.Token.Key, longB.Data.Token.Key)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	for range 3 {
		if got, err := mustFind(t, repo, q); err != nil || got != want {
			t.Fatalf("FindChild = %q, %v; want %q, the smaller key of the two expiring last", got, err, want)
		}
	}
}

func TestUncommittedIsInvisibleAndRollbackDiscards(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	parent := sessionRecord(t, 24*time.Hour)
	mustAdd(t, db, parent)
	rec := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	cleanupTokens(t, db, rec.Data.Token.Key)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}

	tx := mustBegin(t, repo, newLock(t))
	if err := tx.AddToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := tx.FindChild(ctx, q); err != nil || got != rec.Data.Token.Key {
		t.Fatalf("FindChild in the same unit of work = %q, %v; want its own addition", got, err)
	}
	if got, err := mustFind(t, repo, q); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("FindChild elsewhere before Commit = %q, %v; want ErrNotFound", got, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("second Rollback: %v", err)
	}
	if got, err := mustFind(t, repo, q); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("FindChild after Rollback = %q, %v; want ErrNotFound", got, err)
	}
	for _, table := range []string{"token", "subtoken", "token_change_history"} {
		if row := rowJSON(t, db, table, rec.Data.Token.Key); row != "" {
			t.Errorf("%s row survived Rollback: %s", table, row)
		}
	}
}

func TestCommitThenRollback(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	rec := sessionRecord(t, time.Hour)
	cleanupTokens(t, db, rec.Data.Token.Key)
	tx := mustBegin(t, repo, newLock(t))
	if err := tx.AddToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	if row := rowJSON(t, db, "token", rec.Data.Token.Key); row == "" {
		t.Fatal("Rollback after Commit undid the commit")
	}
}

func TestTimestampsIgnoreSessionTimeZone(t *testing.T) {
	t.Parallel()
	mustOpenDB(t) // migrates
	// A pool whose sessions run in Los Angeles time, as a server's default
	// or a role's setting could make them.
	db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), map[string]string{"timezone": "America/Los_Angeles"}))
	var zone string
	if err := db.Get(&zone, "SHOW TimeZone"); err != nil || zone != "America/Los_Angeles" {
		t.Fatalf("session TimeZone = %q, %v", zone, err)
	}
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	parent := sessionRecord(t, 24*time.Hour)
	parent.Data.Created = time.Date(2026, 7, 4, 12, 34, 56, 789_000_000, la)
	parent.Data.Expires = parent.Data.Created.Add(24 * time.Hour)
	child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	mustAdd(t, db, parent, child)

	var stored struct {
		Created     string    `db:"created_text"`
		CreatedTime time.Time `db:"created"`
		Expires     time.Time `db:"expires"`
	}
	if err := db.Get(&stored, "SELECT created::text AS created_text, created, expires FROM token WHERE token = $1",
		parent.Data.Token.Key); err != nil {
		t.Fatal(err)
	}
	if want := "2026-07-04 19:34:56"; stored.Created != want {
		t.Errorf("created stored as %s, want the UTC wall clock %s", stored.Created, want)
	}
	// TIMESTAMP WITHOUT TIME ZONE is read back as UTC.
	wantCreated := time.Date(2026, 7, 4, 19, 34, 56, 0, time.UTC)
	if !stored.CreatedTime.UTC().Equal(wantCreated) || !stored.Expires.UTC().Equal(wantCreated.Add(24*time.Hour)) {
		t.Errorf("read back created %v, expires %v; want %v and a day later", stored.CreatedTime, stored.Expires, wantCreated)
	}

	// Expiry bounds given in any zone compare as UTC instants.
	repo := NewTokenRepository(db, nil)
	expires := wantCreated.Add(time.Hour).In(la)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: expires}
	if got, err := mustFind(t, repo, q); err != nil || got != child.Data.Token.Key {
		t.Errorf("FindChild with the bound at the expiry = %q, %v; want %q", got, err, child.Data.Token.Key)
	}
	q.MinExpiration = expires.Add(time.Second)
	if got, err := mustFind(t, repo, q); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("FindChild with the bound past the expiry = %q, %v; want ErrNotFound", got, err)
	}
}

// A lookup finds a child expiring exactly at its cut-off, and not one a
// microsecond short of it: Gafaelfawr's lookup is expires >= the cut-off,
// and a cut-off may fall within a second (half of an odd lifetime, or a
// parent's cap).
func TestLookupCutOffIsInclusiveToTheMicrosecond(t *testing.T) {
	ctx := context.Background()
	repo := NewTokenRepository(mustOpenDB(t), nil)
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(typ domain.TokenType, svc string, exp time.Time) domain.TokenData {
		tok, err := domain.NewToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return domain.TokenData{Token: tok, Username: "alice", Type: typ, Service: svc, Scopes: []string{"read:all"}, Created: now, Expires: exp}
	}
	parent := mk(domain.TokenTypeSession, "", now.Add(48*time.Hour))
	child := mk(domain.TokenTypeInternal, "portal", now.Add(time.Hour))
	tx, err := repo.Begin(ctx, newLock(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: parent, Actor: "alice", IPAddress: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: child, ParentKey: parent.Token.Key, Actor: "alice", IPAddress: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  time.Duration
		want bool
	}{{-500 * time.Millisecond, true}, {0, true}, {time.Microsecond, false}, {500 * time.Millisecond, false}} {
		tx, err := repo.Begin(ctx, newLock(t))
		if err != nil {
			t.Fatal(err)
		}
		q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeInternal, Service: "portal", Scopes: []string{"read:all"}, MinExpiration: child.Expires.Add(c.off)}
		key, err := tx.FindChild(ctx, q)
		got := err == nil && key == child.Token.Key
		l, err2 := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: now.Add(-time.Hour), Max: 1})
		got2 := err2 == nil && l.Key == child.Token.Key
		_ = tx.Rollback(ctx)
		if got != c.want || got2 != c.want {
			t.Errorf("cut-off at the expiry %+v: FindChild found it %v, LookUpChild %v (%v, %v), want %v", c.off, got, got2, err, err2, c.want)
		}
	}
}
