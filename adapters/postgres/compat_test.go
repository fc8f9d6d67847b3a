package postgres

import (
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
