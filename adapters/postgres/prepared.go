package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// The repository's statements are prepared on each connection the first
// time it runs them, and run as prepared from then on. Unprepared, each
// run costs PostgreSQL a parse, an analysis and a plan, which for a join is
// much of the statement's time; prepared, a statement is parsed once, and
// planned once for any arguments (see generic_plans.go).
//
// A prepared statement runs without lib/pq's watch on its context, since
// lib/pq would make a caller whose context ended wait for its cancel
// request, which a server that stopped answering never answers. The
// connection's own watch (see watchedConn) still ends the call with its
// context, and the connection is closed; the server is not asked to cancel
// the statement, and notices that the connection is gone when the
// statement ends.
//
// This needs a connection to one server session: a pooler in transaction
// mode, which hands each transaction whichever server connection is free,
// loses the prepared statements.
//
// A prepared statement lives as long as its session. PostgreSQL plans it
// again after the tables change, but refuses to run it if the types of its
// result changed: the queries cast their results so that they keep their
// types through Gafaelfawr's migrations. A statement the server refuses or
// no longer knows is forgotten, and prepared anew at its next run.

// preparedQueries are the queries to prepare. It is filled as the
// package's variables are initialised, and only read afterwards.
var preparedQueries = map[string]bool{}

// prepared registers query to be prepared on each connection that runs it
// with arguments, and returns it.
func prepared(query string) string {
	preparedQueries[query] = true
	return query
}

// preparedStmt returns the statement prepared on c for query, preparing it
// on first use, or nil if query is not one to prepare.
func (c *conn) preparedStmt(ctx context.Context, query string, args []driver.NamedValue) (pqStmt, error) {
	if len(args) == 0 || !preparedQueries[query] {
		return nil, nil
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	s, err := c.pq.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := s.(pqStmt)
	if !ok {
		_ = s.Close()
		return nil, nil
	}
	if c.stmts == nil {
		c.stmts = make(map[string]pqStmt)
	}
	c.stmts[query] = st
	return st, nil
}

// checkPrepared forgets the statement prepared for query if err says that
// the server can no longer run it: its result's types changed, or it is
// gone. (The server keeps one whose types changed until the session ends.)
func (c *conn) checkPrepared(query string, err error) {
	if pq.As(err, pqerror.FeatureNotSupported, pqerror.InvalidSQLStatementName) != nil {
		delete(c.stmts, query)
		delete(c.named, query)
	}
}
