package httpapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/mocks"
	"github.com/tokencache/tokencache/ports"
)

func TestRepositoryCheck(t *testing.T) {
	tests := []struct {
		name                     string
		beginErr, findErr, rbErr error
		wantErr                  error
	}{
		{name: "healthy: no such child", findErr: ports.ErrNotFound},
		{name: "begin fails", beginErr: errUnreachable, wantErr: errUnreachable},
		{name: "find fails", findErr: errUnreachable, wantErr: errUnreachable},
		{name: "rollback fails", findErr: ports.ErrNotFound, rbErr: errUnreachable, wantErr: errUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			repo := mocks.NewMockTokenRepository(ctrl)
			if tt.beginErr != nil {
				repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(nil, tt.beginErr)
			} else {
				tx := mocks.NewMockRepositoryTx(ctrl)
				repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(tx, nil)
				// The probe only reads, and always rolls back.
				gomock.InOrder(
					tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", tt.findErr),
					tx.EXPECT().Rollback(gomock.Any()).Return(tt.rbErr),
				)
			}
			err := httpapi.RepositoryCheck(repo).Check(context.Background())
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Check = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
