package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// column is one row of information_schema.columns.
type column struct {
	Table     string  `db:"table_name"`
	Name      string  `db:"column_name"`
	Type      string  `db:"data_type"`
	UDT       string  `db:"udt_name"`
	MaxLength *int    `db:"character_maximum_length"`
	Nullable  string  `db:"is_nullable"`
	Collation *string `db:"collation_name"`
}

func (c column) String() string {
	s := c.Table + "." + c.Name + " " + c.UDT
	if c.MaxLength != nil {
		s += "(" + strconv.Itoa(*c.MaxLength) + ")"
	}
	if c.Collation != nil {
		s += ` COLLATE "` + *c.Collation + `"`
	}
	if c.Nullable == "NO" {
		s += " NOT NULL"
	}
	return s
}

// schema describes the token tables of db: columns, indexes, constraints
// and enum labels, one line each, sorted.
func schema(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var lines []string
	var cols []column
	if err := db.Select(&cols, `
SELECT table_name, column_name, data_type, udt_name, character_maximum_length, is_nullable, collation_name
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name IN ('token', 'subtoken', 'token_change_history')`); err != nil {
		t.Fatalf("reading columns: %v", err)
	}
	for _, c := range cols {
		lines = append(lines, c.String())
	}
	var defs []string
	if err := db.Select(&defs, `
SELECT indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename IN ('token', 'subtoken', 'token_change_history')`); err != nil {
		t.Fatalf("reading indexes: %v", err)
	}
	lines = append(lines, defs...)
	if err := db.Select(&defs, `
SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid IN ('token'::regclass, 'subtoken'::regclass, 'token_change_history'::regclass)`); err != nil {
		t.Fatalf("reading constraints: %v", err)
	}
	lines = append(lines, defs...)
	if err := db.Select(&defs, `
SELECT t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typname IN ('tokentype', 'tokenchange') GROUP BY t.typname`); err != nil {
		t.Fatalf("reading enums: %v", err)
	}
	lines = append(lines, defs...)
	slices.Sort(lines)
	return lines
}

// gafaelfawrSchema is schema's description of the token tables after all
// of Gafaelfawr's migrations.
var gafaelfawrSchema = []string{
	`subtoken.child text COLLATE "C" NOT NULL`,
	`subtoken.parent text COLLATE "C"`,
	`token.created timestamp NOT NULL`,
	`token.expires timestamp`,
	`token.last_used timestamp`,
	`token.scopes text NOT NULL`,
	`token.service text`,
	`token.token text COLLATE "C" NOT NULL`,
	`token.token_name text`,
	`token.token_type tokentype NOT NULL`,
	`token.username text NOT NULL`,
	`token_change_history.action tokenchange NOT NULL`,
	`token_change_history.actor text`,
	`token_change_history.event_time timestamp NOT NULL`,
	`token_change_history.expires timestamp`,
	`token_change_history.id int4 NOT NULL`,
	`token_change_history.ip_address inet`,
	`token_change_history.old_expires timestamp`,
	`token_change_history.old_scopes text`,
	`token_change_history.old_token_name text`,
	`token_change_history.parent text`,
	`token_change_history.scopes text NOT NULL`,
	`token_change_history.service text`,
	`token_change_history.token text NOT NULL`,
	`token_change_history.token_name text`,
	`token_change_history.token_type tokentype NOT NULL`,
	`token_change_history.username text NOT NULL`,
	`CREATE INDEX subtoken_by_parent ON public.subtoken USING btree (parent)`,
	`CREATE INDEX token_by_username ON public.token USING btree (username, token_type)`,
	`CREATE INDEX token_change_history_by_time ON public.token_change_history USING btree (event_time, id)`,
	`CREATE INDEX token_change_history_by_token ON public.token_change_history USING btree (token, event_time, id)`,
	`CREATE INDEX token_change_history_by_username ON public.token_change_history USING btree (username, event_time, id)`,
	`CREATE UNIQUE INDEX subtoken_pkey ON public.subtoken USING btree (child)`,
	`CREATE UNIQUE INDEX token_change_history_pkey ON public.token_change_history USING btree (id)`,
	`CREATE UNIQUE INDEX token_pkey ON public.token USING btree (token)`,
	`CREATE UNIQUE INDEX token_username_token_name_key ON public.token USING btree (username, token_name)`,
	`subtoken_child_fkey FOREIGN KEY (child) REFERENCES token(token) ON DELETE CASCADE`,
	`subtoken_parent_fkey FOREIGN KEY (parent) REFERENCES token(token) ON DELETE SET NULL`,
	`subtoken_pkey PRIMARY KEY (child)`,
	`token_change_history_pkey PRIMARY KEY (id)`,
	`token_pkey PRIMARY KEY (token)`,
	`token_username_token_name_key UNIQUE (username, token_name)`,
	`tokenchange create,revoke,expire,edit`,
	`tokentype session,user,notebook,internal,service,oidc`,
}

func TestMigrateCreatesGafaelfawrSchema(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDB(t))
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	want := slices.Sorted(slices.Values(gafaelfawrSchema))
	got := schema(t, db)
	if !slices.Equal(got, want) {
		t.Errorf("schema after Migrate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var idDefault string
	if err := db.Get(&idDefault, `SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
		WHERE adrelid = 'token_change_history'::regclass`); err != nil || !strings.HasPrefix(idDefault, "nextval(") {
		t.Errorf("token_change_history.id default = %q, %v; want a SERIAL sequence", idDefault, err)
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDB(t))
	ctx := context.Background()
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	first := schema(t, db)
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if second := schema(t, db); !slices.Equal(first, second) {
		t.Errorf("second Migrate changed the schema:\n%s\nwas:\n%s", strings.Join(second, "\n"), strings.Join(first, "\n"))
	}
	// And on the shared test database, which mustOpenDB already migrated.
	if err := Migrate(ctx, mustOpenDB(t)); err != nil {
		t.Fatalf("Migrate on the shared database: %v", err)
	}
}

// Migrators take turns whatever the server's default isolation level:
// under repeatable read or serializable, one that waited for the lock
// would read the database as it was before the first had committed, and
// create the schema again.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	for _, isolation := range []string{"", "repeatable read", "serializable"} {
		t.Run("default_transaction_isolation="+isolation, func(t *testing.T) {
			t.Parallel()
			// Separate pools stand in for separate processes starting together.
			dbURL := mustCreateScratchDB(t)
			if isolation != "" {
				dbURL = withParams(t, dbURL, map[string]string{"default_transaction_isolation": isolation})
			}
			const n = 4
			dbs := make([]*sqlx.DB, n)
			for i := range dbs {
				dbs[i] = mustOpenURL(t, dbURL)
			}
			start := make(chan struct{})
			errs := make(chan error, n)
			for _, db := range dbs {
				go func() {
					<-start
					errs <- Migrate(context.Background(), db)
				}()
			}
			close(start)
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("concurrent Migrate: %v", err)
				}
			}
		})
	}
}

func TestMigrateCancelled(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDB(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Migrate(ctx, db); !errors.Is(err, context.Canceled) {
		t.Fatalf("Migrate with a cancelled context = %v, want context.Canceled", err)
	}
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate after a cancelled one: %v", err)
	}
}

// oldGafaelfawrSchema is the token schema of Gafaelfawr releases up to
// 15.4.1, as SQLAlchemy creates it: VARCHAR columns, and subtoken's columns
// without the "C" collation.
const oldGafaelfawrSchema = `
CREATE TYPE tokentype AS ENUM ('session', 'user', 'notebook', 'internal', 'service', 'oidc');
CREATE TYPE tokenchange AS ENUM ('create', 'revoke', 'expire', 'edit');
CREATE TABLE token (
    token VARCHAR(64) COLLATE "C" NOT NULL,
    username VARCHAR(64) NOT NULL,
    token_type tokentype NOT NULL,
    token_name VARCHAR(64),
    scopes VARCHAR(512) NOT NULL,
    service VARCHAR(64),
    created TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    last_used TIMESTAMP WITHOUT TIME ZONE,
    expires TIMESTAMP WITHOUT TIME ZONE,
    PRIMARY KEY (token),
    UNIQUE (username, token_name)
);
CREATE INDEX token_by_username ON token (username, token_type);
CREATE TABLE token_change_history (
    id SERIAL NOT NULL,
    token VARCHAR(64) NOT NULL,
    username VARCHAR(64) NOT NULL,
    token_type tokentype NOT NULL,
    token_name VARCHAR(64),
    parent VARCHAR(64),
    scopes VARCHAR(512) NOT NULL,
    service VARCHAR(64),
    expires TIMESTAMP WITHOUT TIME ZONE,
    actor VARCHAR(64),
    action tokenchange NOT NULL,
    old_token_name VARCHAR(64),
    old_scopes VARCHAR(512),
    old_expires TIMESTAMP WITHOUT TIME ZONE,
    ip_address INET,
    event_time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX token_change_history_by_time ON token_change_history (event_time, id);
CREATE INDEX token_change_history_by_token ON token_change_history (token, event_time, id);
CREATE INDEX token_change_history_by_username ON token_change_history (username, event_time, id);
CREATE TABLE subtoken (
    child VARCHAR(64) NOT NULL,
    parent VARCHAR(64),
    PRIMARY KEY (child),
    FOREIGN KEY (child) REFERENCES token (token) ON DELETE CASCADE,
    FOREIGN KEY (parent) REFERENCES token (token) ON DELETE SET NULL
);
CREATE INDEX subtoken_by_parent ON subtoken (parent);
`

func TestMigrateOnOldGafaelfawrSchema(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDB(t))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, oldGafaelfawrSchema); err != nil {
		t.Fatalf("creating the old schema: %v", err)
	}
	before := schema(t, db)
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if after := schema(t, db); !slices.Equal(before, after) {
		t.Fatalf("Migrate changed the existing schema:\n%s\nwas:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if !slices.Contains(before, "token.scopes varchar(512) NOT NULL") {
		t.Fatalf("the old schema is not the VARCHAR variant:\n%s", strings.Join(before, "\n"))
	}

	parent := sessionRecord(t, 24*time.Hour)
	child := childRecord(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, time.Hour)
	mustAdd(t, db, parent, child)
	repo := NewTokenRepository(db, nil)
	q := domain.ChildQuery{
		ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
		Scopes: []string{"read:all"}, MinExpiration: testCreated.Add(30 * time.Minute),
	}
	if key, err := mustFind(t, repo, q); err != nil || key != child.Data.Token.Key {
		t.Fatalf("FindChild = %q, %v; want %q", key, err, child.Data.Token.Key)
	}
	q.Service = "other"
	if _, err := mustFind(t, repo, q); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("FindChild for another service = %v, want ErrNotFound", err)
	}
}

// toTextMigration is what Gafaelfawr's migration 5a54e4db3cf4 ("Change all
// text columns to Text") does to the token tables of oldGafaelfawrSchema,
// in its order; its other tables do not matter here.
const toTextMigration = `
ALTER TABLE subtoken ALTER COLUMN child TYPE TEXT COLLATE "C";
ALTER TABLE subtoken ALTER COLUMN parent TYPE TEXT COLLATE "C";
ALTER TABLE token ALTER COLUMN token TYPE TEXT COLLATE "C";
ALTER TABLE token ALTER COLUMN username TYPE TEXT;
ALTER TABLE token ALTER COLUMN token_name TYPE TEXT;
ALTER TABLE token ALTER COLUMN scopes TYPE TEXT;
ALTER TABLE token ALTER COLUMN service TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN token TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN username TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN token_name TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN parent TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN scopes TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN service TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN actor TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN old_token_name TYPE TEXT;
ALTER TABLE token_change_history ALTER COLUMN old_scopes TYPE TEXT;
`

// On a database that Gafaelfawr migrated to its newest schema, Migrate
// changes nothing, and that schema is the one Migrate creates.
func TestMigrateOnNewestGafaelfawrSchema(t *testing.T) {
	t.Parallel()
	db := mustOpenURL(t, mustCreateScratchDB(t))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, oldGafaelfawrSchema+toTextMigration); err != nil {
		t.Fatalf("creating Gafaelfawr's newest schema: %v", err)
	}
	before := schema(t, db)
	if want := slices.Sorted(slices.Values(gafaelfawrSchema)); !slices.Equal(before, want) {
		t.Errorf("Gafaelfawr's newest schema:\n%s\nthe one Migrate creates:\n%s", strings.Join(before, "\n"), strings.Join(want, "\n"))
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if after := schema(t, db); !slices.Equal(before, after) {
		t.Fatalf("Migrate changed the existing schema:\n%s\nwas:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

func TestMigrateAsRoleThatMayOnlyUseTheTables(t *testing.T) {
	t.Parallel()
	// A role of tokencache's own beside Gafaelfawr's: it may use the tables
	// but neither create in the schema nor alter the tables.
	dbURL := mustCreateScratchDB(t)
	owner := mustOpenURL(t, dbURL)
	ctx := context.Background()
	if _, err := owner.ExecContext(ctx, oldGafaelfawrSchema); err != nil {
		t.Fatalf("creating the old schema: %v", err)
	}
	db := mustOpenURL(t, asNewRole(t, owner, dbURL,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON token, subtoken, token_change_history TO %s",
		"GRANT USAGE ON SEQUENCE token_change_history_id_seq TO %s"))
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate as a role that may only use the tables: %v", err)
	}
	parent := sessionRecord(t, 24*time.Hour)
	child := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	mustAdd(t, db, parent, child)
	q := domain.ChildQuery{ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeNotebook, MinExpiration: testCreated}
	if key, err := mustFind(t, NewTokenRepository(db, nil), q); err != nil || key != child.Data.Token.Key {
		t.Fatalf("FindChild = %q, %v; want %q", key, err, child.Data.Token.Key)
	}
}

// A Migrate that fails (here: the schema is missing and the role may not
// create it) rolls back, releasing its lock and its connection.
func TestMigrateFailureReleasesLockAndConnection(t *testing.T) {
	t.Parallel()
	dbURL := mustCreateScratchDB(t)
	owner := mustOpenURL(t, dbURL)
	db := mustOpenURL(t, asNewRole(t, owner, dbURL))
	err := Migrate(context.Background(), db)
	if err == nil {
		t.Fatal("Migrate succeeded as a role that may not create tables")
	}
	if !strings.Contains(err.Error(), "0001_gafaelfawr_schema.sql") {
		t.Errorf("Migrate error %q does not name the migration", err)
	}
	if n := db.Stats().InUse; n != 0 {
		t.Errorf("%d connections still in use after Migrate failed", n)
	}
	if lockHeld(t, owner, migrationLock) {
		t.Error("the migration lock is still held after Migrate failed")
	}
}

// asNewRole creates a login role that may not create in dbURL's public
// schema, runs grants (each with %s for the role) as owner, and returns
// dbURL for the role. Roles belong to the cluster, so the role is created
// and dropped from the shared test database, once owner has revoked what
// was granted to it.
func asNewRole(t *testing.T, owner *sqlx.DB, dbURL string, grants ...string) string {
	t.Helper()
	admin := mustOpenURL(t, integration.DatabaseURL(t))
	role := strings.ReplaceAll("tokencache_role_"+strings.ToLower(newToken(t).Key[:12]), "-", "_")
	password := newToken(t).Secret
	if _, err := admin.Exec("CREATE ROLE " + pq.QuoteIdentifier(role) + " LOGIN PASSWORD " + pq.QuoteLiteral(password)); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	t.Cleanup(func() {
		if _, err := owner.Exec("DROP OWNED BY " + pq.QuoteIdentifier(role)); err != nil {
			t.Errorf("revoking the role's privileges: %v", err)
		}
		if _, err := admin.Exec("DROP ROLE IF EXISTS " + pq.QuoteIdentifier(role)); err != nil {
			t.Errorf("dropping role: %v", err)
		}
	})
	for _, grant := range append([]string{"REVOKE CREATE ON SCHEMA public FROM PUBLIC"}, grants...) {
		if strings.Contains(grant, "%s") {
			grant = fmt.Sprintf(grant, pq.QuoteIdentifier(role))
		}
		if _, err := owner.Exec(grant); err != nil {
			t.Fatalf("%s: %v", grant, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	db := mustOpenURL(t, u.String())
	if _, err := db.Exec("CREATE TABLE probe (x int)"); err == nil {
		t.Fatal("the role may create tables; the test would prove nothing")
	}
	return u.String()
}

// TestCheckSchema: a database without Gafaelfawr's tables is refused with
// a message saying what to run; one migrated passes.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, cleanup, err := Open(ctx, integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, db); err != nil {
		t.Errorf("CheckSchema of a migrated database: %v", err)
	}
	// A search path on an empty schema: none of the tables is found.
	schema := "empty_" + strings.ToLower(strings.ReplaceAll(newToken(t).Key, "-", "_"))
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = db.ExecContext(ctx, "DROP SCHEMA "+schema) }()
	sep := "?"
	if strings.Contains(integration.DatabaseURL(t), "?") {
		sep = "&"
	}
	empty, cleanupEmpty, err := Open(ctx, integration.DatabaseURL(t)+sep+"options=-c%20search_path%3D"+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanupEmpty()
	err = CheckSchema(ctx, empty)
	if err == nil || !strings.Contains(err.Error(), "run tokencache migrate") {
		t.Errorf("CheckSchema of a database without the tables = %v, want it to say to migrate", err)
	}
}

// TestMigrateLeavesTablesFoundOnTheSearchPath: Gafaelfawr's tables in
// public, and a search path that puts another, empty schema first (as
// PostgreSQL's default "$user", public does once a schema named after the
// role exists). The repository finds the tables through the search path;
// Migrate must not create a second, empty set in the first schema, which
// would hide them from every later process.
func TestMigrateLeavesTablesFoundOnTheSearchPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scratch := mustCreateScratchDB(t)
	public := mustOpenURL(t, scratch)
	if err := Migrate(ctx, public); err != nil {
		t.Fatal(err)
	}
	if _, err := public.ExecContext(ctx, "CREATE SCHEMA shadow"); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(scratch, "?") {
		sep = "&"
	}
	shadowed := mustOpenURL(t, scratch+sep+"options=-c%20search_path%3Dshadow,public")
	if err := CheckSchema(ctx, shadowed); err != nil {
		t.Fatalf("CheckSchema through the search path: %v", err)
	}
	if err := Migrate(ctx, shadowed); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var made []string
	if err := public.SelectContext(ctx, &made, `SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'shadow'
		UNION ALL SELECT t.typname FROM pg_type t
		JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'shadow'`); err != nil {
		t.Fatal(err)
	}
	if len(made) > 0 {
		t.Errorf("Migrate made %v in schema shadow, hiding the tables in public", made)
	}
}

// TestMigrateRefusesASchemaSplitByTheSearchPath: the search path finds
// some of the tables in the current schema and the rest in another one.
// Migrate says so rather than add a third kind of mix.
func TestMigrateRefusesASchemaSplitByTheSearchPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scratch := mustCreateScratchDB(t)
	public := mustOpenURL(t, scratch)
	if err := Migrate(ctx, public); err != nil {
		t.Fatal(err)
	}
	if _, err := public.ExecContext(ctx, "CREATE SCHEMA shadow; CREATE TABLE shadow.token (token text)"); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(scratch, "?") {
		sep = "&"
	}
	split := mustOpenURL(t, scratch+sep+"options=-c%20search_path%3Dshadow,public")
	err := Migrate(ctx, split)
	if err == nil || !strings.Contains(err.Error(), "[subtoken token_change_history] in another schema than the current one (shadow)") {
		t.Fatalf("Migrate = %v, want it to name the tables found elsewhere", err)
	}
}
