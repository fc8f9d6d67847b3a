package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

const (
	// DefaultMaxConnections caps the connections Open keeps open at once
	// unless MaxConnections says otherwise.
	DefaultMaxConnections = 20

	// maxIdleConns is how many connections the pool keeps open while
	// idle, at most the cap.
	maxIdleConns = 16

	// defaultConnectTimeout bounds each connection attempt, its session's
	// set-up included, when the URL sets no connect_timeout. lib/pq also
	// uses it to bound the extra connection on which it asks the server
	// to cancel a statement.
	defaultConnectTimeout = 10 * time.Second

	// DefaultIdleInTransactionTimeout is how long the server keeps a
	// session idle in a transaction unless IdleInTransactionTimeout or
	// the URL says otherwise.
	DefaultIdleInTransactionTimeout = time.Minute
)

// Option adjusts Open.
type Option func(*options)

type options struct {
	maxConns int
	idleInTx time.Duration
}

// IdleInTransactionTimeout has the server end a session of the pool that
// stays idle in a transaction for longer than d (its
// idle_in_transaction_session_timeout, set when each connection opens),
// rolling the transaction back; d <= 0 means
// DefaultIdleInTransactionTimeout, and beyond the server's largest (2^31 -
// 1 ms, some 24.8 days) the largest is set. A URL that sets the parameter
// itself, as a parameter or in options, wins.
//
// A client cut off from the server mid-transaction gives up on it, but
// until the server notices, which without this bound can take its TCP
// keepalive's two hours, the session holds the transaction's locks: the
// child's advisory lock, which every replica then waits for in vain, and
// its parent's row, which Gafaelfawr's revocation of the parent waits for.
// So d should exceed the longest pause a transaction here makes between
// statements (the token store's write, within the creation timeout), and
// not by much.
func IdleInTransactionTimeout(d time.Duration) Option {
	return func(o *options) { o.idleInTx = d }
}

// MaxConnections caps the connections open at once at n; n <= 0 means
// DefaultMaxConnections. Beyond it, callers wait for a free connection
// until their context ends. Each replica holds up to n, so keep replicas
// × n below PostgreSQL's max_connections less what Gafaelfawr and others
// need.
func MaxConnections(n int) Option {
	return func(o *options) { o.maxConns = n }
}

// Open connects to the PostgreSQL database at url and checks that it
// answers. The returned cleanup closes the pool. Errors never contain the
// password from url.
//
// Each statement costs one round trip, with or without arguments, and a
// transaction sends its BEGIN with its first statement (in the same
// message when that statement has no arguments). The repository's
// statements are prepared on each connection, so the URL must lead to one
// server session per connection: a pooler in transaction mode would lose
// them.
//
// Every statement, transaction end and connection handshake ends when its
// context does, even if the server or the network has stopped answering:
// the connection is then closed rather than reused. A connection
// whose peer vanished is noticed by TCP keepalives. Each connection
// attempt (to each host of a list), from the dial to the session's
// set-up, target_session_attrs' check included, is also bounded by url's
// connect_timeout, 10 seconds unless it sets one, whatever its context
// (database/sql opens connections for callers waiting for the pool on a
// context of its own, which never ends while the pool is open); so is
// Open's check that the server answers.
func Open(ctx context.Context, url string, opts ...Option) (*sqlx.DB, func(), error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxConns <= 0 {
		o.maxConns = DefaultMaxConnections
	}
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("opening database: %w", parseError(err, url))
	}
	if hostListWithPorts(url) {
		return nil, nil, errors.New("opening database: the driver (lib/pq) reads the ports of a URL's list of hosts otherwise than libpq; " +
			"give the list in the key=value form: host=h1,h2 port=p1,p2")
	}
	if _, ok := cfg.Runtime["sslpassword"]; ok {
		// lib/pq takes any option it does not know for a setting and
		// sends it to the server, which refuses the connection.
		return nil, nil, errors.New("opening database: sslpassword is not supported: the driver (lib/pq) would send the key's passphrase to the server as a setting; use a client key without a passphrase")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	// Otherwise lib/pq sends a statement with arguments in two round
	// trips, one to prepare it unnamed and one to run it. In this mode it
	// sends both at once, the arguments as text as before (only []byte
	// values, which nothing here passes, would go as binary).
	cfg.BinaryParameters = true
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("opening database: %w", redact(err, url, cfg.Password))
	}
	pc.Dialer(newDialer())
	if o.idleInTx <= 0 {
		o.idleInTx = DefaultIdleInTransactionTimeout
	}
	db := sqlx.NewDb(sql.OpenDB(newConnector(pc, &cfg, o.idleInTx, clientCheckInterval)), "postgres")
	// A burst of requests beyond the cap queues for a connection, within
	// each request's deadline, rather than opening more than the server
	// or its other clients can spare. database/sql keeps only 2 idle
	// connections by default, so a burst of creations (each holding a
	// transaction) would reconnect for most of them: keep more, and let
	// them go once the burst is over.
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(min(maxIdleConns, o.maxConns))
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := ping(ctx, db, cfg.ConnectTimeout); err != nil {
		// Close so that a failed Open leaves no pool behind.
		_ = db.Close()
		return nil, nil, fmt.Errorf("connecting to database: %w", redact(err, url, cfg.Password))
	}
	// The cleanup signature has no room for an error, and there is nothing
	// a caller shutting down could do about one.
	return db, func() { _ = db.Close() }, nil
}

// ping opens a connection of db within ctx, each attempt within the
// connect timeout (see connector.Connect), and checks within ctx and the
// timeout that it answers. Open's ctx may have no end, and the pool's own
// PingContext would bound the connection and the check by ctx alone; the
// timeout is not applied to the whole of it, so that every host of a list
// still has its attempt.
func ping(ctx context.Context, db *sqlx.DB, timeout time.Duration) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	pingCtx, cancel := context.WithTimeoutCause(ctx, timeout, connectTimeoutError(timeout))
	err = withTimeout(ctx, pingCtx, conn.PingContext(pingCtx))
	// Back to the pool before the timer stops: the ping watches the
	// connection with pingCtx until the pool takes it back (see conn).
	_ = conn.Close()
	cancel()
	return err
}

// hostListWithPorts reports whether dsn is a URL whose hosts are a list
// with a port (postgres://u@h1:p1,h2:p2/db): lib/pq reads "h1:p1,h2" as
// one host on p2, and "h1,h2:p2" as both on p2, where libpq puts h1 on
// 5432. A list without ports lib/pq reads as libpq does.
func hostListWithPorts(dsn string) bool {
	if !isURL(dsn) {
		return false
	}
	u, err := neturl.Parse(dsn)
	if err != nil || !strings.Contains(u.Host, ",") {
		return false
	}
	for _, host := range strings.Split(u.Host, ",") {
		if i := strings.LastIndex(host, "]"); i >= 0 {
			host = host[i+1:] // an IPv6 address in brackets
		}
		if strings.Contains(host, ":") {
			return true
		}
	}
	return false
}
