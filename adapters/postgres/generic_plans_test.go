package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

func TestConnectionsKeepGenericPlansUnlessTheURLChooses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"Default", nil, "force_generic_plan"},
		{"RuntimeParameter", map[string]string{"plan_cache_mode": "force_custom_plan"}, "force_custom_plan"},
		{"Options", map[string]string{"options": "-c plan_cache_mode=auto"}, "auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := mustOpenURL(t, withParams(t, integration.DatabaseURL(t), tt.params))
			var mode string
			if err := db.GetContext(context.Background(), &mode, "SHOW plan_cache_mode"); err != nil {
				t.Fatal(err)
			}
			if mode != tt.want {
				t.Fatalf("plan_cache_mode = %q, want %q", mode, tt.want)
			}
		})
	}
}

// The lookup a creation makes is planned once per connection, however
// often it runs and whatever its arguments: run after Begin, as lib/pq's
// prepared statement, and first after BeginDeferred, as the statement
// prepared by name (see queryFirst).
func TestLookupIsPlannedOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		begin func(*TokenRepository, context.Context, domain.CacheKey) (ports.RepositoryTx, error)
		// statement is how pg_prepared_statements shows the lookup,
		// prepared under the name in name.
		statement string
	}{
		{"Begin", (*TokenRepository).Begin, "$1"},
		{"BeginDeferred", (*TokenRepository).BeginDeferred, "'PREPARE ' || name || ' AS ' || $1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookupIsPlannedOnce(t, tt.begin, tt.statement)
		})
	}
}

func lookupIsPlannedOnce(t *testing.T, begin func(*TokenRepository, context.Context, domain.CacheKey) (ports.RepositoryTx, error), statement string) {
	mustOpenDB(t) // migrates
	db, cleanup, err := Open(context.Background(), integration.DatabaseURL(t), MaxConnections(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	parent := sessionRecord(t, 24*time.Hour)
	mustAdd(t, db, parent)
	for i := range 8 {
		tx, err := begin(repo, ctx, newLock(t))
		if err != nil {
			t.Fatal(err)
		}
		q := domain.ChildQuery{
			ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
			Scopes: []string{"read:all"}, MinExpiration: testCreated.Add(time.Duration(i) * time.Hour),
		}
		if _, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated.Add(-time.Duration(i) * time.Minute), Max: 1}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var plans struct {
		Generic int64 `db:"generic_plans"`
		Custom  int64 `db:"custom_plans"`
	}
	// On the same connection: prepared statements belong to their session.
	err = db.GetContext(ctx, &plans,
		`SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = `+statement, lookUpInternalChild)
	if err != nil {
		t.Fatalf("reading the session's prepared statements (PostgreSQL 14 or later): %v", err)
	}
	if plans.Custom != 0 || plans.Generic != 8 {
		t.Fatalf("the lookup ran on %d generic and %d custom plans, want 8 generic", plans.Generic, plans.Custom)
	}
}
