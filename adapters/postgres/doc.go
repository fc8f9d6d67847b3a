// Package postgres implements ports.TokenRepository on PostgreSQL, in the
// schema Python Gafaelfawr uses, so that tokencache and a running
// Gafaelfawr can share one database: each reads the tokens, parent links
// and change history the other writes.
//
// Timestamps are stored as Gafaelfawr stores them: TIMESTAMP WITHOUT TIME
// ZONE holding the UTC wall clock, in whole seconds.
package postgres
