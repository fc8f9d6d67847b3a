package postgres

import (
	"context"
	"testing"
)

// probeQuery is a statement to prepare, on a table each test makes.
var probeQuery = prepared("SELECT a FROM probe WHERE a = $1")

// A statement to prepare is prepared once per connection and then run as
// prepared. One that the server can no longer run, because its result's
// types changed or it is gone, fails once and is prepared again. Other
// statements are not prepared.
func TestStatementsArePreparedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stale string // what makes the prepared statement stale
	}{
		{"ResultTypeChanged", "ALTER TABLE probe ALTER COLUMN a TYPE text"},
		{"Deallocated", "DEALLOCATE ALL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, proxy := openCounted(t, MaxConnections(1))
			ctx := context.Background()
			if _, err := db.ExecContext(ctx, "CREATE TEMPORARY TABLE probe (a varchar(10)); INSERT INTO probe VALUES ('x')"); err != nil {
				t.Fatal(err)
			}
			run := func() error {
				var a string
				return db.GetContext(ctx, &a, probeQuery, "x")
			}
			for i, want := range []struct {
				query              string
				args               []any
				parses, roundTrips int
			}{
				{probeQuery, []any{"x"}, 1, 2}, // prepared, then run
				{probeQuery, []any{"x"}, 0, 1}, // run as prepared
				// Not one to prepare: parsed and run in one round trip.
				{probeQuery + " AND a <> $2", []any{"x", "y"}, 1, 1},
			} {
				before := proxy.Counts()
				var a string
				if err := db.GetContext(ctx, &a, want.query, want.args...); err != nil {
					t.Fatalf("run %d: %v", i+1, err)
				}
				if got := proxy.Counts().Sub(before); got.Parses != want.parses || got.RoundTrips() != want.roundTrips {
					t.Errorf("run %d: %v, want %d Parse in %d round trips", i+1, got, want.parses, want.roundTrips)
				}
			}
			if _, err := db.ExecContext(ctx, tt.stale); err != nil {
				t.Fatal(err)
			}
			if err := run(); err == nil {
				t.Fatal("the stale statement ran")
			} else {
				t.Logf("the stale statement: %v", err)
			}
			before := proxy.Counts()
			if err := run(); err != nil {
				t.Fatalf("the statement after it went stale: %v", err)
			}
			if got := proxy.Counts().Sub(before); got.Parses != 1 {
				t.Errorf("after it went stale: %v, want it prepared again", got)
			}
		})
	}
}
