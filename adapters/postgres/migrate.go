package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates Gafaelfawr's token schema where it is missing, leaving
// every existing type, table and index alone, so it may run on each start
// and on a database Gafaelfawr already manages, even as a role that may
// only read and write Gafaelfawr's tables. Processes migrating at once take
// turns: each holds an advisory lock while it works.
func Migrate(ctx context.Context, db *sqlx.DB) (err error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("listing migrations: %w", err)
	}
	// One transaction makes the migration all or nothing, and the
	// transaction-scoped lock is released when it ends, even if ctx is
	// cancelled, so no pooled connection keeps holding it. It reads at
	// READ COMMITTED whatever the server's default, so that a migrator
	// that waited for the lock sees what the one before it created.
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("migrating: beginning transaction: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	if _, err := tx.ExecContext(ctx, lockStatement(lockID(migrationLock))); err != nil {
		return fmt.Errorf("migrating: taking lock: %w", err)
	}
	switch elsewhere, current, err := tablesElsewhere(ctx, tx); {
	case err != nil:
		return err
	case len(elsewhere) == len(schemaTables):
		// Gafaelfawr's, found through the search path: new ones in the
		// current schema would hide them.
		return tx.Commit()
	case len(elsewhere) > 0:
		return fmt.Errorf("migrating: the search path finds %v in another schema than the current one (%s), where the rest would be made: put the schema that holds them first on the search path",
			elsewhere, current)
	}
	// fs.Glob returns the names sorted, which is the order to apply them.
	for _, name := range names {
		script, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		// Without arguments lib/pq uses the simple query protocol, which
		// runs a script of several statements.
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			return fmt.Errorf("applying %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating: committing: %w", err)
	}
	return nil
}

// schemaTables are the tables the repository uses.
var schemaTables = []string{"token", "subtoken", "token_change_history"}

// tablesElsewhere returns those of schemaTables that the search path
// finds in a schema other than the current one (the first on the path
// that exists), where Migrate creates what is missing, and the current
// schema's name.
func tablesElsewhere(ctx context.Context, tx *sqlx.Tx) (elsewhere []string, current string, err error) {
	if err := tx.GetContext(ctx, &current, `SELECT coalesce(current_schema(), '')`); err != nil {
		return nil, "", fmt.Errorf("migrating: reading the current schema: %w", err)
	}
	err = tx.SelectContext(ctx, &elsewhere, `SELECT t FROM unnest($1::text[]) AS t
		JOIN pg_class c ON c.oid = to_regclass(t)
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname <> $2 ORDER BY t`, pq.Array(schemaTables), current)
	if err != nil {
		return nil, "", fmt.Errorf("migrating: looking for the tables on the search path: %w", err)
	}
	return elsewhere, current, nil
}

// errNotMigrated is CheckSchema's error for a database without the tables.
var errNotMigrated = errors.New("the database lacks Gafaelfawr's token tables (token, subtoken, token_change_history): run tokencache migrate, or point the URL at Gafaelfawr's database")

// CheckSchema reports whether db has the tables the repository uses, as
// Migrate creates them or Gafaelfawr does, so that a process started on a
// database without them says so at once, rather than failing every
// creation as if the store were down.
func CheckSchema(ctx context.Context, db *sqlx.DB) error {
	var missing []string
	err := db.SelectContext(ctx, &missing, `SELECT t FROM unnest(ARRAY['token', 'subtoken', 'token_change_history']) AS t
		WHERE to_regclass(t) IS NULL`)
	if err != nil {
		return fmt.Errorf("checking the schema: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w; missing: %v", errNotMigrated, missing)
	}
	return nil
}
