package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
	"github.com/tokencache/tokencache/ports"
)

var mintTime = time.Date(2026, 5, 6, 7, 8, 9, 500, time.UTC)

func TestMintSessionWritesBothStores(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewManualClock(mintTime)
	store, repo := memory.NewTokenStore(clock), memory.NewRepository()
	req := sessionRequest{username: "alice", scopes: []string{"user:token", "read:all", "read:all"}, lifetime: time.Hour}

	token, err := mintSession(ctx, store, repo, clock.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.Get(ctx, token)
	if err != nil {
		t.Fatalf("token store: %v", err)
	}
	created := mintTime.Truncate(time.Second)
	if data.Type != domain.TokenTypeSession || data.Username != "alice" ||
		!slices.Equal(data.Scopes, []string{"read:all", "user:token"}) ||
		!data.Created.Equal(created) || !data.Expires.Equal(created.Add(time.Hour)) {
		t.Errorf("stored %+v", data)
	}
	if _, ok := repo.Token(token.Key); !ok {
		t.Error("no token row")
	}
	h := repo.History(token.Key)
	if len(h) != 1 || h[0].Actor != "alice" || h[0].Action != "create" || h[0].IPAddress != "" {
		t.Errorf("history = %+v, want one create by alice from no known address", h)
	}
}

func TestMintSessionDeletesTheTokenWhenItCannotBeRecorded(t *testing.T) {
	ctrl := gomock.NewController(t)
	store := mocks.NewMockTokenStore(ctrl)
	repo := mocks.NewMockTokenRepository(ctrl)
	tx := mocks.NewMockRepositoryTx(ctrl)
	failure := errors.New("connection reset")

	var stored domain.TokenData
	gomock.InOrder(
		store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(
			func(_ context.Context, d domain.TokenData) error { stored = d; return nil }),
		repo.EXPECT().Begin(gomock.Any(), gomock.Any()).Return(tx, nil),
		tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(failure),
		tx.EXPECT().Rollback(gomock.Any()).Return(nil),
		store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(
			func(_ context.Context, key string) error {
				if key != stored.Token.Key {
					t.Errorf("deleted %s, want the stored token %s", key, stored.Token.Key)
				}
				return nil
			}),
	)
	req := sessionRequest{username: "alice", lifetime: time.Hour}
	if _, err := mintSession(context.Background(), store, repo, mintTime, req); !errors.Is(err, failure) {
		t.Fatalf("mintSession = %v, want the repository's error", err)
	}
}

// TestMintSessionErrorPaths: a failed write to the token store is
// reported and nothing is recorded. After a failed commit, which may have
// taken effect, the repository is asked: a token recorded is handed out;
// one not recorded is deleted again, a failed delete reported with the
// commit's failure; and one whose row cannot be looked up is kept.
func TestMintSessionErrorPaths(t *testing.T) {
	storeFailure, commitFailure, deleteFailure := errors.New("store refused"), errors.New("commit lost"), errors.New("delete refused")
	req := sessionRequest{username: "alice", lifetime: time.Hour}

	// A failed write may have been done all the same: the token is
	// deleted again, and a failure to delete it is reported too.
	for _, deleteErr := range []error{nil, deleteFailure} {
		t.Run(fmt.Sprintf("store fails, delete error %v", deleteErr), func(t *testing.T) {
			ctrl := gomock.NewController(t)
			store := mocks.NewMockTokenStore(ctrl)
			repo := mocks.NewMockTokenRepository(ctrl) // no call expected
			var stored string
			store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
				stored = d.Token.Key
				return storeFailure
			})
			store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, key string) error {
				if key != stored {
					t.Errorf("deleted %q, want the token stored, %q", key, stored)
				}
				return deleteErr
			})
			_, err := mintSession(context.Background(), store, repo, mintTime, req)
			if !errors.Is(err, storeFailure) || deleteErr != nil && !errors.Is(err, deleteErr) {
				t.Fatalf("mintSession = %v, want the token store's error and the delete's (%v)", err, deleteErr)
			}
		})
	}
	unreachable := errors.New("repository unreachable")
	for _, tt := range []struct {
		name      string
		recorded  bool  // what TokenExists answers after the failed commit
		existsErr error // or its error
		lockErr   error // or the error of waiting for the lock before it
		deleteErr error
		wantToken bool
	}{
		{name: "commit did not take effect", deleteErr: nil},
		{name: "commit did not take effect, delete fails", deleteErr: deleteFailure},
		{name: "commit took effect", recorded: true, wantToken: true},
		{name: "commit unknown", existsErr: unreachable},
		{name: "commit still under way", lockErr: unreachable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			store := mocks.NewMockTokenStore(ctrl)
			repo := mocks.NewMockTokenRepository(ctrl)
			tx, settled := mocks.NewMockRepositoryTx(ctrl), mocks.NewMockRepositoryTx(ctrl)
			var stored domain.TokenData
			var lock domain.CacheKey
			calls := []*gomock.Call{
				store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(
					func(_ context.Context, d domain.TokenData) error { stored = d; return nil }),
				repo.EXPECT().Begin(gomock.Any(), gomock.Any()).DoAndReturn(
					func(_ context.Context, l domain.CacheKey) (ports.RepositoryTx, error) { lock = l; return tx, nil }),
				tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil),
				tx.EXPECT().Commit(gomock.Any()).Return(commitFailure),
				tx.EXPECT().Rollback(gomock.Any()).Return(nil),
				// Asked only once the unit of work that committed has
				// ended: its lock is free.
				repo.EXPECT().Begin(gomock.Any(), gomock.Any()).DoAndReturn(
					func(_ context.Context, l domain.CacheKey) (ports.RepositoryTx, error) {
						if l != lock {
							t.Errorf("waited for lock %q, want the commit's %q", l, lock)
						}
						if tt.lockErr != nil {
							return nil, tt.lockErr
						}
						return settled, nil
					}),
			}
			if tt.lockErr == nil {
				calls = append(calls,
					settled.EXPECT().Rollback(gomock.Any()).Return(nil),
					repo.EXPECT().TokenExists(gomock.Any(), gomock.Any()).DoAndReturn(
						func(_ context.Context, key string) (bool, error) {
							if key != stored.Token.Key {
								t.Errorf("asked for %s, want the stored token %s", key, stored.Token.Key)
							}
							return tt.recorded, tt.existsErr
						}))
			}
			if !tt.recorded && tt.existsErr == nil && tt.lockErr == nil {
				calls = append(calls, store.EXPECT().Delete(gomock.Any(), gomock.Any()).DoAndReturn(
					func(_ context.Context, key string) error {
						if key != stored.Token.Key {
							t.Errorf("deleted %s, want the stored token %s", key, stored.Token.Key)
						}
						return tt.deleteErr
					}))
			}
			gomock.InOrder(calls...)
			token, err := mintSession(context.Background(), store, repo, mintTime, req)
			if tt.wantToken {
				if err != nil || token != stored.Token {
					t.Errorf("mintSession = %v, %v; want the token, whose commit took effect", token.Key, err)
				}
				return
			}
			if !errors.Is(err, commitFailure) {
				t.Errorf("mintSession = %v, want the commit's error", err)
			}
			for _, also := range []error{tt.deleteErr, tt.existsErr, tt.lockErr} {
				if also != nil && !errors.Is(err, also) {
					t.Errorf("mintSession = %v, want %v reported too", err, also)
				}
			}
		})
	}
}

func TestMintSessionRefusesBadRequests(t *testing.T) {
	tests := map[string]sessionRequest{
		"no username": {lifetime: time.Hour},
		// Names every delegation would refuse (the input guard).
		"username ending in a space": {username: "bob ", lifetime: time.Hour},
		"username with a control":    {username: "bo\x07b", lifetime: time.Hour},
		"username too long":          {username: strings.Repeat("b", domain.MaxNameLength+1), lifetime: time.Hour},
		"bad scope":                  {username: "alice", scopes: []string{"read all"}, lifetime: time.Hour},
		"zero lifetime":              {username: "alice"},
		"fractional seconds":         {username: "alice", lifetime: 1500 * time.Millisecond},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			// No expectations: nothing may be written.
			ctrl := gomock.NewController(t)
			store, repo := mocks.NewMockTokenStore(ctrl), mocks.NewMockTokenRepository(ctrl)
			if _, err := mintSession(context.Background(), store, repo, mintTime, req); err == nil {
				t.Fatal("mintSession succeeded")
			}
		})
	}
}
