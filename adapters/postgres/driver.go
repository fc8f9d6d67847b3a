package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// connector opens lib/pq connections whose every call ends when its
// context does (see watchedConn).
type connector struct {
	pq    *pq.Connector
	setup string // the statement that sets up each session; "" for none (see sessionSetup)
	// unchecked is setup without the client check, for a server that
	// refuses it (PostgreSQL on a platform without it, such as macOS or
	// Windows); once one has, checkRefused is set and it is sent instead.
	unchecked    string
	checkRefused atomic.Bool
	timeout      time.Duration // the connect timeout (see connSlot); 0 for none
}

// newConnector makes pc's connections set up their sessions for cfg, with
// the bound on idling in a transaction idleInTx and the client check every
// checkMillis milliseconds, each attempt within cfg's connect timeout.
func newConnector(pc *pq.Connector, cfg *pq.Config, idleInTx time.Duration, checkMillis string) *connector {
	return &connector{
		pq:        pc,
		setup:     sessionSetup(cfg, idleInTx, checkMillis),
		unchecked: sessionSetup(cfg, idleInTx, ""),
		timeout:   cfg.ConnectTimeout,
	}
}

var _ driver.Connector = (*connector)(nil)

// pqConn is what lib/pq's connections implement and what conn uses of
// them. A lib/pq connection is also its own driver.Tx, whose Commit and
// Rollback end the transaction the server reports being in, whoever sent
// its BEGIN.
type pqConn interface {
	driver.Conn
	driver.Tx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// errInterrupted is returned for a connection whose handshake was cut off
// because its context or the connect timeout ended just as it completed.
var errInterrupted = errors.New("connection interrupted just as its handshake completed")

// Connect opens a connection, the handshake included, within ctx, and
// sets up its session (see sessionSetup). Each attempt (each host of a
// list, see connSlot) is also bounded by the connect timeout, set-up
// included: ctx may have no end (database/sql opens connections for
// callers waiting for the pool on a context that lasts as long as the
// pool), and a server or pooler that completes the startup but never
// answers would otherwise hold Connect, and its place in the pool, for
// good.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	slot := &connSlot{ctx: ctx, timeout: c.timeout}
	// After every path below has closed or released the connection, so that
	// ending the attempt interrupts nothing.
	defer slot.end()
	dc, err := c.pq.Connect(context.WithValue(ctx, connSlotKey{}, slot))
	if err != nil {
		if slot.conn != nil {
			// lib/pq may fail a redial (without TLS, or with it) and leave
			// the connection it gave up on open; closing one it closed
			// itself does no harm.
			_ = slot.conn.Close()
		}
		return nil, err
	}
	pc, ok := dc.(pqConn)
	if !ok || slot.conn == nil {
		_ = dc.Close()
		return nil, fmt.Errorf("lib/pq connection %T is not as expected", dc)
	}
	if err := c.setUp(ctx, pc); err != nil {
		slot.conn.release()
		_ = dc.Close()
		return nil, withTimeout(ctx, slot.attempt, err)
	}
	if !slot.conn.release() {
		_ = dc.Close()
		return nil, withTimeout(ctx, slot.attempt, errInterrupted)
	}
	return &conn{pq: pc, nc: slot.conn}, nil
}

// withTimeout is err, if any, with why it came: as withContext says if
// parent has ended; otherwise with the cause of the end of ctx, a timeout
// within parent, if it has ended.
func withTimeout(parent, ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if parent.Err() != nil {
		return withContext(parent, err)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return err
}

// setUp sends pc the session's set-up, without the client check
// once the server has refused it.
func (c *connector) setUp(ctx context.Context, pc pqConn) error {
	setup := c.setup
	if c.checkRefused.Load() {
		setup = c.unchecked
	}
	if setup == "" {
		return nil
	}
	err := setUpSession(ctx, pc, setup)
	if err != nil && setup != c.unchecked && refusesClientCheck(err) {
		c.checkRefused.Store(true)
		return c.setUp(ctx, pc)
	}
	return err
}

// refusesClientCheck reports whether err is the server's refusal of
// client_connection_check_interval's value.
func refusesClientCheck(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "22023" && strings.Contains(pqErr.Message, "client_connection_check_interval")
}

// Driver returns lib/pq's driver.
func (c *connector) Driver() driver.Driver { return c.pq.Driver() }

// conn is a lib/pq connection whose calls end with their context: each
// call with a context watches the network connection with it until the
// next call, or until database/sql takes the connection back (IsValid or
// ResetSession), so rows being read stay bounded by their query's context
// and a transaction's Commit and Rollback by the transaction's. Its
// transactions send BEGIN with their first statement (see begin.go), and
// it prepares the repository's statements (see prepared.go).
type conn struct {
	pq pqConn
	nc *watchedConn
	tx *tx // the open transaction, if any

	stmts map[string]pqStmt // the repository's statements prepared on it, by query
	named map[string]string // the names of those prepared by PREPARE (see queryFirst), by query
	names int               // how many names it has given
}

// driverConn is what conn offers database/sql.
type driverConn interface {
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

var _ driverConn = (*conn)(nil)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.nc.watch(ctx)
	// The statement will run in the transaction: BEGIN goes first.
	if err := c.sendBegin(ctx); err != nil {
		return nil, err
	}
	s, err := c.pq.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if ps, ok := s.(pqStmt); ok {
		return &stmt{pqStmt: ps, c: c}, nil
	}
	return s, nil
}

func (c *conn) Close() error { return c.pq.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// ExecContext runs query, with the transaction's BEGIN if it is still to
// be sent, as a statement prepared on c if it is one of the repository's
// (see prepared.go).
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.nc.watch(ctx)
	query, err := c.withBegin(ctx, query, args)
	if err != nil {
		return nil, err
	}
	st, err := c.preparedStmt(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pq.ExecContext(ctx, query, args)
	}
	res, err := st.ExecContext(context.WithoutCancel(ctx), args)
	c.checkPrepared(query, err)
	return res, err
}

// QueryContext is ExecContext for a statement that returns rows. One that
// may go first in a transaction goes with its BEGIN (see queryFirst).
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.nc.watch(ctx)
	if rows, ok, err := c.queryFirst(ctx, query, args); ok {
		return rows, err
	}
	query, err := c.withBegin(ctx, query, args)
	if err != nil {
		return nil, err
	}
	st, err := c.preparedStmt(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pq.QueryContext(ctx, query, args)
	}
	rows, err := st.QueryContext(context.WithoutCancel(ctx), args)
	c.checkPrepared(query, err)
	return rows, err
}

func (c *conn) Ping(ctx context.Context) error {
	c.nc.watch(ctx)
	return c.pq.Ping(ctx)
}

// ResetSession is called before database/sql reuses the connection: an
// interrupted one, one whose transaction never ended, or one the server
// closed while it was idle, is reported bad, so that it is closed instead
// and database/sql takes another. The last check matters because a
// transaction sends its BEGIN with its first statement (see begin.go):
// database/sql retries a BeginTx that fails on a bad connection, but not
// a statement in a transaction, so without it every pooled connection the
// server ended (a restart, idle_session_timeout, pg_terminate_backend)
// would fail one unit of work.
func (c *conn) ResetSession(ctx context.Context) error {
	if !c.nc.release() || c.tx != nil || c.nc.closedByPeer() {
		return driver.ErrBadConn
	}
	return c.pq.ResetSession(ctx)
}

// IsValid is called before database/sql puts the connection back in its
// pool: an interrupted one, or one whose transaction never ended, is not
// valid, so that it is closed instead.
func (c *conn) IsValid() bool {
	return c.nc.release() && c.tx == nil && c.pq.IsValid()
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error { return c.pq.CheckNamedValue(nv) }

// pqStmt is what lib/pq's prepared statements implement.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// stmt is a statement prepared through database/sql, whose executions end
// with their context and run in the open transaction.
type stmt struct {
	pqStmt
	c *conn
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.nc.watch(ctx)
	if err := s.c.sendBegin(ctx); err != nil {
		return nil, err
	}
	return s.pqStmt.ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.nc.watch(ctx)
	if err := s.c.sendBegin(ctx); err != nil {
		return nil, err
	}
	return s.pqStmt.QueryContext(ctx, args)
}
