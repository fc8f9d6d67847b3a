package postgres

import (
	"context"
	"testing"

	"github.com/tokencache/tokencache/ports/porttest"
)

func TestRepositoryConformance(t *testing.T) {
	t.Parallel()
	// The suite leaves its rows behind, so it gets a database of its own.
	db := mustOpenURL(t, mustCreateScratchDB(t))
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	porttest.TestTokenRepository(t, NewTokenRepository(db, nil))
}
