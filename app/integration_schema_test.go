package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/internal/integration"
)

// TestIntegrationUnmigratedDatabaseIsRefusedAtStart: composed on a
// database without Gafaelfawr's tables, the service does not start, and
// says to migrate, rather than answering every creation as if the store
// were down.
func TestIntegrationUnmigratedDatabaseIsRefusedAtStart(t *testing.T) {
	e := newRealEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema := "empty_" + strings.ToLower(strings.ReplaceAll(e.addParent(t, time.Hour).Token.Key, "-", "_"))
	if _, err := e.db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = e.db.ExecContext(context.Background(), "DROP SCHEMA "+schema) }()
	url := integration.DatabaseURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	cfg := e.cfg
	cfg.DatabaseURL = url + sep + "options=-c%20search_path%3D" + schema
	_, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err == nil {
		cleanup()
		t.Fatal("the service started on a database without the tables")
	}
	if !strings.Contains(err.Error(), "run tokencache migrate") {
		t.Errorf("error %q does not say to migrate", err)
	}
}
