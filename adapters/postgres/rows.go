package postgres

import (
	"database/sql"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// creationRow is what AddToken writes: a row of Gafaelfawr's token table
// as this adapter writes it (token_name and last_used are always NULL),
// and the columns of its "create" history entry that do not repeat it.
type creationRow struct {
	Token     string
	Username  string
	TokenType string
	Scopes    string
	Service   sql.NullString
	Created   time.Time
	Expires   sql.NullTime
	Actor     sql.NullString
	IPAddress sql.NullString
}

// args are the arguments of addToken, and of addChild but its last (the
// parent's key).
func (r creationRow) args() []any {
	return []any{r.Token, r.Username, r.TokenType, r.Scopes, r.Service, r.Created, r.Expires, r.Actor, r.IPAddress}
}

func newCreationRow(rec domain.TokenRecord) creationRow {
	d := rec.Data
	return creationRow{
		Token:     d.Token.Key,
		Username:  d.Username,
		TokenType: string(d.Type),
		Scopes:    domain.JoinScopes(d.Scopes),
		Service:   nullString(d.Service),
		Created:   dbTime(d.Created),
		Expires:   nullTime(d.Expires),
		Actor:     nullString(rec.Actor),
		IPAddress: nullString(rec.IPAddress),
	}
}

// dbTime is t as Gafaelfawr stores it: UTC, whole seconds. Converting to
// UTC is what makes the stored wall clock right: lib/pq sends the time with
// its offset, and PostgreSQL ignores the offset when the column is a
// TIMESTAMP WITHOUT TIME ZONE, whatever the session's TimeZone.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

// nullTime maps the zero time, which the domain uses for "never", to NULL.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: dbTime(t), Valid: true}
}

// nullString maps "", which the domain uses for "unset", to NULL.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
