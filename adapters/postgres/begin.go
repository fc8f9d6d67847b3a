package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// A transaction begun on a conn sends its BEGIN with its first statement
// rather than on its own, which saves a round trip per transaction: when
// that statement has no arguments, lib/pq sends it with BEGIN in one
// simple-protocol Query message ("BEGIN; SELECT ..."), whose
// statements the server runs one after the other as if they had come one
// by one; otherwise BEGIN goes just before it. A transaction that runs no
// statement sends nothing at all, not even its COMMIT or ROLLBACK.
//
// Deferring BEGIN changes nothing a transaction can observe but its start
// time (now()), which becomes that of its first statement: PostgreSQL
// takes a transaction's first snapshot at its first statement, not at
// BEGIN, whatever the isolation level. lib/pq follows the transaction
// status the server reports after every message, so its Commit and
// Rollback work the same whoever sent BEGIN.

// A transaction can also be given a statement to send right after its
// BEGIN, in the same message (see withStatementAfterBegin): the advisory
// lock of a deferred Begin, which then costs no round trip of its own.

// errTxOpen is returned for a second transaction on a connection whose
// first has not ended, which database/sql never asks for.
var errTxOpen = errors.New("a transaction is already open on this connection")

// BeginTx begins a transaction without a round trip (see above). Its
// Commit and Rollback end within ctx.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errTxOpen
	}
	begin, err := beginStatement(opts)
	if err != nil {
		return nil, err
	}
	if then, ok := ctx.Value(afterBeginKey{}).(string); ok {
		begin += "; " + then
		c.tx = &tx{c: c, ctx: ctx, begin: begin, sets: 1}
		return c.tx, nil
	}
	c.tx = &tx{c: c, ctx: ctx, begin: begin}
	return c.tx, nil
}

// afterBeginKey is the context key of withStatementAfterBegin.
type afterBeginKey struct{}

// withStatementAfterBegin returns ctx asking that a transaction begun with
// it send statement, a query that gives one result set of its own, right
// after its BEGIN and in the same message.
func withStatementAfterBegin(ctx context.Context, statement string) context.Context {
	return context.WithValue(ctx, afterBeginKey{}, statement)
}

// beginStatement is the BEGIN that opts ask for, as lib/pq words it.
func beginStatement(opts driver.TxOptions) (string, error) {
	begin := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		begin += " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		begin += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead:
		begin += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		begin += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return "", fmt.Errorf("isolation level not supported: %s", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		return begin + " READ ONLY", nil
	}
	// Not READ WRITE, which would override a default_transaction_read_only
	// that the operator set on the database or role to stop writes, as
	// Gafaelfawr's plain BEGIN (asyncpg) does not.
	return begin, nil
}

// takeBegin returns the open transaction's BEGIN, with the statement to
// send after it if any, if it is still to be sent, or "", and counts it as
// sent from then on: if sending it fails, the server is not in a
// transaction, lib/pq knows it, and its Commit or Rollback fails and
// retires the connection. sets is how many result sets it gives.
func (c *conn) takeBegin() (begin string, sets int) {
	if c.tx == nil {
		return "", 0
	}
	begin, sets = c.tx.begin, c.tx.sets
	c.tx.begin, c.tx.sets = "", 0
	return begin, sets
}

// withBegin returns what to send for query: query itself, or, when the
// open transaction's BEGIN is still to be sent and query has no arguments,
// both in one message. A query with arguments cannot share lib/pq's
// message with BEGIN (but see queryFirst), which then goes on its own
// first; nor can one that follows a statement of its own after BEGIN,
// whose result set would come first.
func (c *conn) withBegin(ctx context.Context, query string, args []driver.NamedValue) (string, error) {
	if len(args) > 0 || c.tx != nil && c.tx.sets > 0 {
		return query, c.sendBegin(ctx)
	}
	if begin, _ := c.takeBegin(); begin != "" {
		return begin + "; " + query, nil
	}
	return query, nil
}

// sendBegin sends the open transaction's BEGIN on its own if it is still
// to be sent.
func (c *conn) sendBegin(ctx context.Context) error {
	if begin, _ := c.takeBegin(); begin != "" {
		if _, err := c.pq.ExecContext(ctx, begin, nil); err != nil {
			return &beginError{err}
		}
	}
	return nil
}

// tx is a transaction on a conn. It ends within the context it began with:
// database/sql gives Commit and Rollback none of their own.
type tx struct {
	c     *conn
	ctx   context.Context
	begin string // the BEGIN statement, and any after it, while still to be sent
	sets  int    // how many result sets begin gives
}

// Commit commits, unless the transaction sent nothing: then there is
// nothing to commit.
func (t *tx) Commit() error {
	t.c.tx = nil
	if t.begin != "" {
		return nil
	}
	t.c.nc.watch(t.ctx)
	return t.c.pq.Commit()
}

// Rollback rolls back, unless the transaction sent nothing: then there is
// nothing to roll back, and the connection, untouched, stays usable even
// if the transaction's context has ended.
func (t *tx) Rollback() error {
	t.c.tx = nil
	if t.begin != "" {
		return nil
	}
	t.c.nc.watch(t.ctx)
	return t.c.pq.Rollback()
}
