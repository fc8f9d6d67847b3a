package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
)

// A transaction's first statement can share one message with its BEGIN
// and the statement after it (the lock of a deferred Begin) even when it
// has arguments, if it is one registered with preparedFirst: the message
// is then a simple-protocol Query,
//
//	BEGIN ...; SELECT pg_advisory_xact_lock(...); EXECUTE tokencache_1('...', ...)
//
// which PostgreSQL runs one statement after the other, each reading the
// database as of its own start (under READ COMMITTED): the lookup sees
// what the lock's previous holder committed, as it would in a message of
// its own. It costs no more than the extended protocol's: the statement is
// prepared by name on the connection, once (PREPARE), and EXECUTE runs its
// generic plan (see generic_plans.go), parsing only the arguments, which go
// as quoted literals of unknown type and are read by the parameters' input
// functions, as lib/pq's text parameters are.

// firstQueries are the queries that may go first in a transaction with
// its BEGIN. It is filled as the package's variables are initialised, and
// only read afterwards.
var firstQueries = map[string]bool{}

// preparedFirst registers query to be prepared (see prepared) and to go
// with the transaction's BEGIN when it comes first, and returns it. query
// must give one result set.
func preparedFirst(query string) string {
	firstQueries[query] = true
	return prepared(query)
}

// errNoResultSet is returned if the server's answer to a message lacks the
// first statement's result set.
var errNoResultSet = errors.New("the answer lacks the statement's result set")

// queryFirst runs query in one message with what the open transaction has
// yet to send, and returns its rows. It sends nothing and returns ok false
// when it cannot: the transaction sent its BEGIN already, query is not one
// of firstQueries, or an argument has no literal form.
func (c *conn) queryFirst(ctx context.Context, query string, args []driver.NamedValue) (rows driver.Rows, ok bool, err error) {
	if c.tx == nil || c.tx.begin == "" || !firstQueries[query] {
		return nil, false, nil
	}
	values, ok := literals(args)
	if !ok {
		return nil, false, nil
	}
	// A failure here is the statement's own: nothing of the transaction
	// has been sent yet, and it stays to be sent (or rolled back unsent).
	name, err := c.preparedName(ctx, query)
	if err != nil {
		return nil, true, err
	}
	// lib/pq is given ctx, as Begin's lock is: if ctx ends while the
	// message waits for the lock, lib/pq may ask the server to cancel the
	// wait, on a connection of its own and without waiting for it. The
	// connection's own watch ends the call, and may do so first: the server
	// then takes the session out of the lock's queue once it notices the
	// connection is gone (client_connection_check_interval, see session.go).
	// lib/pq returns the rows at their first row (BEGIN gives none): when
	// a statement goes after BEGIN (a deferred lock, one row), an error
	// before then is BEGIN's or that statement's, one after it query's.
	begin, sets := c.takeBegin()
	rows, err = c.pq.QueryContext(ctx, begin+"; EXECUTE "+name+"("+values+")", nil)
	if err != nil {
		c.checkPrepared(query, err)
		if sets > 0 {
			err = &beginError{err}
		}
		return nil, true, err
	}
	if err := skipResultSets(rows, sets); err != nil {
		_ = rows.Close()
		c.checkPrepared(query, err)
		return nil, true, err
	}
	return rows, true, nil
}

// beginError is an error that came before the transaction's first
// statement of its own began: in BEGIN, or in the statement sent after
// BEGIN (a deferred lock).
type beginError struct{ err error }

func (e *beginError) Error() string { return e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

// preparedName returns the name of the statement prepared for query by
// PREPARE on c, preparing it on first use. Names are not reused: a
// statement forgotten by checkPrepared may still be on the server.
func (c *conn) preparedName(ctx context.Context, query string) (string, error) {
	if name, ok := c.named[query]; ok {
		return name, nil
	}
	c.names++
	name := "tokencache_" + strconv.Itoa(c.names)
	// As a prepared statement's run, without lib/pq's cancel (see prepared.go).
	if _, err := c.pq.ExecContext(context.WithoutCancel(ctx), "PREPARE "+name+" AS "+query, nil); err != nil {
		return "", err
	}
	if c.named == nil {
		c.named = make(map[string]string)
	}
	c.named[query] = name
	return name, nil
}

// skipResultSets reads rows past the first sets result sets.
func skipResultSets(rows driver.Rows, sets int) error {
	next, ok := rows.(driver.RowsNextResultSet)
	for range sets {
		dest := make([]driver.Value, len(rows.Columns()))
		for {
			err := rows.Next(dest)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		if !ok || !next.HasNextResultSet() {
			return errNoResultSet
		}
		if err := next.NextResultSet(); err != nil {
			return err
		}
	}
	return nil
}

// literals returns args as the argument list of an EXECUTE, or false if
// one has no literal form here: a value of another type, or text the
// server may refuse: a NUL byte, invalid UTF-8, or anything beyond ASCII,
// which a database whose encoding is not UTF-8 may have no character for.
// Such text fails a statement sent apart, in the transaction; in a Query
// message it would fail the whole message, BEGIN included, leaving a
// transaction that lib/pq can no longer roll back. A literal is quoted,
// whatever its type, so that the parameter's input function reads it as
// it reads lib/pq's text parameters.
func literals(args []driver.NamedValue) (string, bool) {
	var b strings.Builder
	for i, arg := range args {
		if arg.Name != "" || arg.Ordinal != i+1 {
			return "", false
		}
		if i > 0 {
			b.WriteString(", ")
		}
		var text string
		switch v := arg.Value.(type) {
		case nil:
			b.WriteString("NULL")
			continue
		case string:
			text = v
		case int64:
			text = strconv.FormatInt(v, 10)
		case bool:
			text = strconv.FormatBool(v)
		case time.Time:
			text = string(pq.FormatTimestamp(v))
		default:
			return "", false
		}
		if !asciiWithoutNUL(text) {
			return "", false
		}
		b.WriteString(pq.QuoteLiteral(text))
	}
	return b.String(), true
}

// asciiWithoutNUL reports whether text is made of ASCII only, NUL excepted:
// text every server encoding reads alike.
func asciiWithoutNUL(text string) bool {
	for i := range len(text) {
		if text[i] == 0 || text[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
