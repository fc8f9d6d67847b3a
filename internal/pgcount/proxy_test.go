package pgcount_test

import (
	"database/sql"
	"net/url"
	"testing"

	_ "github.com/lib/pq"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/internal/pgcount"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openThrough opens the test database through p with extra URL
// parameters, closing it when t ends.
func openThrough(t *testing.T, p *pgcount.Proxy, params map[string]string) *sql.DB {
	t.Helper()
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

func startProxy(t *testing.T) *pgcount.Proxy {
	t.Helper()
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pgcount.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// The counts match what lib/pq is known to send: one Query for a statement
// without parameters, and for one with parameters a prepare and an execute
// (two Syncs), or one batch in binary_parameters mode.
func TestCountsLibPQRoundTrips(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		run    func(db *sql.DB) error
		want   pgcount.Counts
	}{
		{"NoParameters", nil, func(db *sql.DB) error {
			_, err := db.Exec("SELECT 1; SELECT 2")
			return err
		}, pgcount.Counts{Queries: 1}},
		{"Parameters", nil, func(db *sql.DB) error {
			var n int
			return db.QueryRow("SELECT $1::int", 7).Scan(&n)
		}, pgcount.Counts{Syncs: 2, Parses: 1, Executes: 1}},
		{"BinaryParameters", map[string]string{"binary_parameters": "yes"}, func(db *sql.DB) error {
			var n int
			return db.QueryRow("SELECT $1::int", 7).Scan(&n)
		}, pgcount.Counts{Syncs: 1, Parses: 1, Executes: 1}},
		{"Transaction", nil, func(db *sql.DB) error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			if _, err := tx.Exec("SELECT 1"); err != nil {
				return err
			}
			return tx.Commit()
		}, pgcount.Counts{Queries: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t)
			db := openThrough(t, p, tt.params)
			before := p.Counts()
			if err := tt.run(db); err != nil {
				t.Fatal(err)
			}
			if got := p.Counts().Sub(before); got != tt.want {
				t.Errorf("counted %v, want %v", got, tt.want)
			}
		})
	}
}
