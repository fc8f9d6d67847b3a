package postgres

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// gafaelfawrToken is a token as Python Gafaelfawr's TokenService creates
// it, in the values its SQLAlchemy models bind.
type gafaelfawrToken struct {
	key, username, tokenType, scopes string
	service, parent, ip              sql.NullString
	created, expires                 string // naive UTC, whole seconds
}

// insertAsGafaelfawr writes tok with plain SQL the way Gafaelfawr does:
// the token row, flushed, then the subtoken row, then the history entry,
// in one transaction. It deletes the rows when t ends.
func insertAsGafaelfawr(t *testing.T, db *sqlx.DB, tok gafaelfawrToken) {
	t.Helper()
	cleanupTokens(t, db, tok.key)
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	mustExec := func(query string, args ...any) {
		t.Helper()
		if _, err := tx.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	mustExec(`INSERT INTO token (token, username, token_type, token_name, scopes, service, created, last_used, expires)
		VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, $7)`,
		tok.key, tok.username, tok.tokenType, tok.scopes, tok.service, tok.created, tok.expires)
	if tok.parent.Valid {
		mustExec(`INSERT INTO subtoken (parent, child) VALUES ($1, $2)`, tok.parent, tok.key)
	}
	actor := tok.username
	mustExec(`INSERT INTO token_change_history (token, username, token_type, token_name, parent, scopes,
			service, expires, actor, action, old_token_name, old_scopes, old_expires, ip_address, event_time)
		VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, 'create', NULL, NULL, NULL, $9, $10)`,
		tok.key, tok.username, tok.tokenType, tok.parent, tok.scopes, tok.service, tok.expires, actor, tok.ip, tok.created)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func valid(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func TestCompatibleWithGafaelfawr(t *testing.T) {
	t.Parallel()
	db := mustOpenDB(t)
	repo := NewTokenRepository(db, nil)
	parentKey := newToken(t).Key
	insertAsGafaelfawr(t, db, gafaelfawrToken{
		key: parentKey, username: "gafuser", tokenType: "session", scopes: "exec:notebook,read:all,user:token",
		ip: valid("192.0.2.20"), created: "2026-11-28 09:30:15", expires: "2026-12-05 09:30:15",
	})
	gafInternal := gafaelfawrToken{
		key: newToken(t).Key, username: "gafuser", tokenType: "internal", scopes: "exec:notebook,read:all",
		service: valid("portal"), parent: valid(parentKey), ip: valid("2001:db8::20"),
		created: "2026-11-28 09:31:00", expires: "2026-11-29 09:31:00",
	}
	insertAsGafaelfawr(t, db, gafInternal)
	gafNotebook := gafaelfawrToken{
		key: newToken(t).Key, username: "gafuser", tokenType: "notebook", scopes: "exec:notebook,read:all,user:token",
		parent: valid(parentKey), ip: valid("2001:db8::20"),
		created: "2026-11-28 09:32:00", expires: "2026-11-29 09:32:00",
	}
	insertAsGafaelfawr(t, db, gafNotebook)

	t.Run("FindChild finds Gafaelfawr's children", func(t *testing.T) {
		minExpiration := time.Date(2026, 11, 28, 21, 0, 0, 0, time.UTC)
		internal := domain.ChildQuery{ParentKey: parentKey, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: []string{"read:all", "exec:notebook"}, MinExpiration: minExpiration}
		if got, err := mustFind(t, repo, internal); err != nil || got != gafInternal.key {
			t.Errorf("FindChild internal = %q, %v; want %q", got, err, gafInternal.key)
		}
		notebook := domain.ChildQuery{ParentKey: parentKey, Type: domain.TokenTypeNotebook, MinExpiration: minExpiration}
		if got, err := mustFind(t, repo, notebook); err != nil || got != gafNotebook.key {
			t.Errorf("FindChild notebook = %q, %v; want %q", got, err, gafNotebook.key)
		}
		internal.MinExpiration = time.Date(2026, 11, 29, 9, 31, 1, 0, time.UTC)
		if got, err := mustFind(t, repo, internal); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("FindChild past the child's expiry = %q, %v; want ErrNotFound", got, err)
		}
	})

	t.Run("AddToken writes what Gafaelfawr writes", func(t *testing.T) {
		// The same child as gafInternal, added by this adapter under
		// another key.
		ours := domain.TokenRecord{
			Data: domain.TokenData{
				Token:    newToken(t),
				Username: "gafuser",
				Type:     domain.TokenTypeInternal,
				Service:  "portal",
				Scopes:   []string{"exec:notebook", "read:all"},
				Created:  time.Date(2026, 11, 28, 9, 31, 0, 0, time.UTC),
				Expires:  time.Date(2026, 11, 29, 9, 31, 0, 0, time.UTC),
			},
			ParentKey: parentKey,
			Actor:     "gafuser",
			IPAddress: "2001:db8::20",
		}
		mustAdd(t, db, ours)
		ourKey := ours.Data.Token.Key
		for _, c := range []struct {
			table string
			omit  []string
		}{
			{"token", []string{"token"}},
			{"subtoken", []string{"child"}},
			{"token_change_history", []string{"id", "token"}},
		} {
			want := rowJSON(t, db, c.table, gafInternal.key, c.omit...)
			got := rowJSON(t, db, c.table, ourKey, c.omit...)
			if want == "" || got != want {
				t.Errorf("%s row:\n ours       %s\n Gafaelfawr %s", c.table, got, want)
			}
		}
	})
}

// On each of Gafaelfawr's schemas, VARCHAR (releases up to 15.4.1) and
// TEXT (later ones), AddToken writes the rows Gafaelfawr writes for the
// same tokens, with a parent link or without, and a child of an unknown
// parent is an invalid token that leaves nothing behind.
func TestAddTokenOnEachGafaelfawrSchema(t *testing.T) {
	t.Parallel()
	for _, sc := range []struct{ name, ddl string }{
		{"VARCHAR", oldGafaelfawrSchema},
		{"TEXT", oldGafaelfawrSchema + toTextMigration},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			db := mustOpenURL(t, mustCreateScratchDB(t))
			if _, err := db.Exec(sc.ddl); err != nil {
				t.Fatalf("creating the schema: %v", err)
			}
			gafParent := gafaelfawrToken{
				key: newToken(t).Key, username: "gafuser", tokenType: "session", scopes: "exec:notebook,read:all",
				ip: valid("192.0.2.20"), created: "2026-11-28 09:30:15", expires: "2026-12-05 09:30:15",
			}
			gafChild := gafaelfawrToken{
				key: newToken(t).Key, username: "gafuser", tokenType: "internal", scopes: "read:all",
				service: valid("portal"), parent: valid(gafParent.key), ip: valid("2001:db8::20"),
				created: "2026-11-28 09:31:00", expires: "2026-11-29 09:31:00",
			}
			insertAsGafaelfawr(t, db, gafParent)
			insertAsGafaelfawr(t, db, gafChild)

			ourParent := domain.TokenRecord{
				Data: domain.TokenData{
					Token: newToken(t), Username: "gafuser", Type: domain.TokenTypeSession,
					Scopes:  []string{"exec:notebook", "read:all"},
					Created: time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC),
					Expires: time.Date(2026, 12, 5, 9, 30, 15, 0, time.UTC),
				},
				Actor: "gafuser", IPAddress: "192.0.2.20",
			}
			ourChild := domain.TokenRecord{
				Data: domain.TokenData{
					Token: newToken(t), Username: "gafuser", Type: domain.TokenTypeInternal,
					Service: "portal", Scopes: []string{"read:all"},
					Created: time.Date(2026, 11, 28, 9, 31, 0, 0, time.UTC),
					Expires: time.Date(2026, 11, 29, 9, 31, 0, 0, time.UTC),
				},
				ParentKey: gafParent.key, Actor: "gafuser", IPAddress: "2001:db8::20",
			}
			mustAdd(t, db, ourParent, ourChild)
			for _, pair := range []struct{ theirs, ours string }{
				{gafParent.key, ourParent.Data.Token.Key},
				{gafChild.key, ourChild.Data.Token.Key},
			} {
				for _, c := range []struct {
					table string
					omit  []string
				}{
					{"token", []string{"token"}},
					{"subtoken", []string{"child"}},
					{"token_change_history", []string{"id", "token"}},
				} {
					want := rowJSON(t, db, c.table, pair.theirs, c.omit...)
					if got := rowJSON(t, db, c.table, pair.ours, c.omit...); got != want {
						t.Errorf("%s row:\n ours       %s\n Gafaelfawr %s", c.table, got, want)
					}
				}
			}

			orphan := ourChild
			orphan.Data.Token = newToken(t)
			orphan.ParentKey = newToken(t).Key
			tx := mustBegin(t, NewTokenRepository(db, nil), newLock(t))
			if err := tx.AddToken(context.Background(), orphan); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("AddToken with an unknown parent = %v, want ErrInvalidToken", err)
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"token", "subtoken", "token_change_history"} {
				if row := rowJSON(t, db, table, orphan.Data.Token.Key); row != "" {
					t.Errorf("%s row written for the orphan: %s", table, row)
				}
			}
		})
	}
}

// The repository's prepared statements keep running when Gafaelfawr
// migrates its schema from VARCHAR to TEXT under them.
func TestStatementsSurviveGafaelfawrsMigrationToText(t *testing.T) {
	t.Parallel()
	dbURL := mustCreateScratchDB(t)
	owner := mustOpenURL(t, dbURL)
	if _, err := owner.Exec(oldGafaelfawrSchema); err != nil {
		t.Fatalf("creating the old schema: %v", err)
	}
	// One connection, which prepares the statements before the migration
	// and runs them after it.
	db, cleanup, err := Open(context.Background(), dbURL, MaxConnections(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	creation := func(t *testing.T) {
		t.Helper()
		parent := sessionRecord(t, 24*time.Hour)
		mustAdd(t, db, parent)
		child := childRecord(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, time.Hour)
		q := domain.ChildQuery{
			ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: []string{"read:all"}, MinExpiration: testCreated.Add(2 * time.Hour),
		}
		tx := mustBegin(t, repo, newLock(t))
		if _, err := tx.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("FindChild = %v, want ErrNotFound", err)
		}
		if got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1}); err != nil || got.Key != "" {
			t.Fatalf("LookUpChild = %+v, %v; want no child", got, err)
		}
		if err := tx.AddToken(ctx, child); err != nil {
			t.Fatalf("AddToken: %v", err)
		}
		q.MinExpiration = testCreated
		if key, err := tx.FindChild(ctx, q); err != nil || key != child.Data.Token.Key {
			t.Fatalf("FindChild = %q, %v; want the child just added", key, err)
		}
		if got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1}); err != nil || got.Key != child.Data.Token.Key || got.Recent.N != 1 {
			t.Fatalf("LookUpChild = %+v, %v; want the child just added, counted", got, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	creation(t)
	if _, err := owner.Exec(toTextMigration); err != nil {
		t.Fatalf("migrating to TEXT: %v", err)
	}
	creation(t)
}
