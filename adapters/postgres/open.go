package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	// Registers the "postgres" driver that sqlx.Open names.
	_ "github.com/lib/pq"
)

// maxIdleConns is how many connections the pool keeps open while idle.
const maxIdleConns = 16

// Open connects to the PostgreSQL database at url and checks that it
// answers. The returned cleanup closes the pool. Errors never contain the
// password from url.
func Open(ctx context.Context, url string) (*sqlx.DB, func(), error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, nil, fmt.Errorf("opening database: %w", redact(err, url))
	}
	// database/sql keeps only 2 idle connections by default, so a burst of
	// creations (each holding a transaction) would reconnect for most of
	// them. Keep more, and let them go once the burst is over. The number
	// open is not capped: requests for different children must not queue
	// for a connection; size PostgreSQL's max_connections for the replicas.
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		// Close so that a failed Open leaves no pool behind.
		_ = db.Close()
		return nil, nil, fmt.Errorf("connecting to database: %w", redact(err, url))
	}
	// The cleanup signature has no room for an error, and there is nothing
	// a caller shutting down could do about one.
	return db, func() { _ = db.Close() }, nil
}
