package httpapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
)

func TestRepositoryCheck(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{name: "healthy: no such token"},
		{name: "the read fails", err: errUnreachable, wantErr: errUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			repo := mocks.NewMockTokenRepository(ctrl)
			// One read, and no Begin: the probe takes no lock.
			repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).Return(false, tt.err)
			err := httpapi.RepositoryCheck(repo).Check(context.Background())
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Check = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestRepositoryCheckTakesNoLock: every replica's probe would otherwise
// queue for one lock, each holding a connection while it waits, and a
// holder whose connection went silent would fail them all.
func TestRepositoryCheckTakesNoLock(t *testing.T) {
	repo := memory.NewRepository()
	ctx := context.Background()
	// Held as another replica's probe would hold it.
	tx, err := repo.Begin(ctx, domain.CacheKey("tokencache-healthz-probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := httpapi.RepositoryCheck(repo).Check(ctx); err != nil {
		t.Fatalf("Check with the repository's locks held = %v, want nil at once", err)
	}
}
