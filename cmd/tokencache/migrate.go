package main

import (
	"context"
	"fmt"

	"github.com/tokencache/tokencache/adapters/postgres"
)

func (c *cli) migrate(ctx context.Context, args []string) error {
	var databaseURL string
	fs := c.newFlagSet("migrate", `
Create Gafaelfawr's token schema in PostgreSQL where it is missing. It leaves
existing types, tables and indexes alone, so it is safe to run again and on a
database that Gafaelfawr already manages.`, [][2]string{{envDatabaseURL, "as --database-url"}})
	fs.StringVar(&databaseURL, "database-url", "",
		"PostgreSQL `URL`, such as postgres://user@127.0.0.1:5432/gafaelfawr?sslmode=disable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !givenFlags(fs)["database-url"] {
		databaseURL = c.getenv(envDatabaseURL)
	}
	if databaseURL == "" {
		return usageError("--database-url (or " + envDatabaseURL + ") is required")
	}

	ctx, stop := interruptible(ctx)
	defer stop()
	db, closeDB, err := postgres.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := postgres.Migrate(ctx, db); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "tokencache migrate: the schema is up to date")
	return nil
}
