package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// connector opens lib/pq connections whose every call ends when its
// context does (see watchedConn).
type connector struct {
	pq *pq.Connector
}

var _ driver.Connector = (*connector)(nil)

// pqConn is what lib/pq's connections implement and what database/sql
// uses of them.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// errInterrupted is returned for a connection whose handshake was cut off
// because its context ended just as it completed.
var errInterrupted = errors.New("connection interrupted: its context ended")

// Connect opens a connection, the handshake included, within ctx.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	slot := &connSlot{ctx: ctx}
	dc, err := c.pq.Connect(context.WithValue(ctx, connSlotKey{}, slot))
	if err != nil {
		return nil, err
	}
	pc, ok := dc.(pqConn)
	if !ok || slot.conn == nil {
		_ = dc.Close()
		return nil, fmt.Errorf("lib/pq connection %T is not as expected", dc)
	}
	if !slot.conn.release() {
		_ = dc.Close()
		return nil, errInterrupted
	}
	return &conn{pq: pc, nc: slot.conn}, nil
}

// Driver returns lib/pq's driver.
func (c *connector) Driver() driver.Driver { return c.pq.Driver() }

// conn is a lib/pq connection whose calls end with their context: each
// call with a context watches the network connection with it until the
// next call, or until database/sql takes the connection back (IsValid or
// ResetSession), so rows being read stay bounded by their query's context
// and a transaction's Commit and Rollback by the transaction's.
type conn struct {
	pq pqConn
	nc *watchedConn
}

var _ pqConn = (*conn)(nil)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.nc.watch(ctx)
	s, err := c.pq.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if ps, ok := s.(pqStmt); ok {
		return &stmt{pqStmt: ps, nc: c.nc}, nil
	}
	return s, nil
}

func (c *conn) Close() error { return c.pq.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.nc.watch(ctx)
	t, err := c.pq.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &tx{Tx: t, nc: c.nc, ctx: ctx}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.nc.watch(ctx)
	return c.pq.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.nc.watch(ctx)
	return c.pq.QueryContext(ctx, query, args)
}

func (c *conn) Ping(ctx context.Context) error {
	c.nc.watch(ctx)
	return c.pq.Ping(ctx)
}

// ResetSession is called before database/sql reuses the connection: an
// interrupted one is reported bad, so that it is closed instead.
func (c *conn) ResetSession(ctx context.Context) error {
	if !c.nc.release() {
		return driver.ErrBadConn
	}
	return c.pq.ResetSession(ctx)
}

// IsValid is called before database/sql puts the connection back in its
// pool: an interrupted one is not valid, so that it is closed instead.
func (c *conn) IsValid() bool {
	return c.nc.release() && c.pq.IsValid()
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error { return c.pq.CheckNamedValue(nv) }

// tx ends its transaction within the context it began with: database/sql
// gives Commit and Rollback none of their own.
type tx struct {
	driver.Tx
	nc  *watchedConn
	ctx context.Context
}

func (t *tx) Commit() error {
	t.nc.watch(t.ctx)
	return t.Tx.Commit()
}

func (t *tx) Rollback() error {
	t.nc.watch(t.ctx)
	return t.Tx.Rollback()
}

// pqStmt is what lib/pq's prepared statements implement.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// stmt is a prepared statement whose executions end with their context.
type stmt struct {
	pqStmt
	nc *watchedConn
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.nc.watch(ctx)
	return s.pqStmt.ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.nc.watch(ctx)
	return s.pqStmt.QueryContext(ctx, args)
}
