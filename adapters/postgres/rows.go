package postgres

import (
	"database/sql"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// tokenRow is a row of Gafaelfawr's token table as this adapter writes it.
// token_name and last_used are always NULL for the tokens it creates.
type tokenRow struct {
	Token     string         `db:"token"`
	Username  string         `db:"username"`
	TokenType string         `db:"token_type"`
	Scopes    string         `db:"scopes"`
	Service   sql.NullString `db:"service"`
	Created   time.Time      `db:"created"`
	Expires   sql.NullTime   `db:"expires"`
}

// subtokenRow links a child token to its parent.
type subtokenRow struct {
	Child  string `db:"child"`
	Parent string `db:"parent"`
}

// historyRow is a "create" row of Gafaelfawr's token_change_history.
type historyRow struct {
	Token     string         `db:"token"`
	Username  string         `db:"username"`
	TokenType string         `db:"token_type"`
	Parent    sql.NullString `db:"parent"`
	Scopes    string         `db:"scopes"`
	Service   sql.NullString `db:"service"`
	Expires   sql.NullTime   `db:"expires"`
	Actor     sql.NullString `db:"actor"`
	IPAddress sql.NullString `db:"ip_address"`
	EventTime time.Time      `db:"event_time"`
}

func newTokenRow(rec domain.TokenRecord) tokenRow {
	d := rec.Data
	return tokenRow{
		Token:     d.Token.Key,
		Username:  d.Username,
		TokenType: string(d.Type),
		Scopes:    domain.JoinScopes(d.Scopes),
		Service:   nullString(d.Service),
		Created:   dbTime(d.Created),
		Expires:   nullTime(d.Expires),
	}
}

func newHistoryRow(rec domain.TokenRecord) historyRow {
	d := rec.Data
	return historyRow{
		Token:     d.Token.Key,
		Username:  d.Username,
		TokenType: string(d.Type),
		Parent:    nullString(rec.ParentKey),
		Scopes:    domain.JoinScopes(d.Scopes),
		Service:   nullString(d.Service),
		Expires:   nullTime(d.Expires),
		Actor:     nullString(rec.Actor),
		IPAddress: nullString(rec.IPAddress),
		EventTime: dbTime(d.Created),
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
