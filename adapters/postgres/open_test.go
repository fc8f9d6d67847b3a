package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/internal/integration"
)

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "s3cretPW"
	tests := []struct {
		name string
		dsn  string
	}{
		{"unparsable URL", "postgres://user:" + secret + "%zz@127.0.0.1/db"},
		{"bad port", "postgres://user:" + secret + "@127.0.0.1:notaport/db"},
		{"wrong scheme", "mysql://user:" + secret + "@127.0.0.1/db"},
		{"bad parameter", "postgres://user:" + secret + "@127.0.0.1/db?sslmode=bogus"},
		{"password parameter", "postgres://127.0.0.1:1/db?sslmode=disable&password=" + secret},
		{"key=value form", "host=127.0.0.1 port=1 password=" + secret + " sslmode"},
		{"unreachable", "postgres://user:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, cleanup, err := Open(context.Background(), tt.dsn)
			if err == nil {
				cleanup()
				t.Fatal("Open succeeded")
			}
			if db != nil || cleanup != nil {
				t.Errorf("Open returned a database or cleanup along with error %v", err)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("error chain reveals the password: %v", e)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestOpenAndCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, cleanup, err := Open(ctx, integration.DatabaseURL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	cleanup()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("database still usable after cleanup")
	}
}
