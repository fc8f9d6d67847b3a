package httpapi_test

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

var randReader = rand.Reader

// errUnreachable is what a store that cannot be reached says; its address
// must never reach a client.
var errUnreachable = errors.New("dial tcp 10.0.0.1:6379: connect: connection refused")

// failingStore fails the chosen operations of the TokenStore it wraps as an
// unreachable server would.
type failingStore struct {
	ports.TokenStore
	failGet, failStore bool
}

func (s *failingStore) Get(ctx context.Context, token domain.Token) (domain.TokenData, error) {
	if s.failGet {
		return domain.TokenData{}, errUnreachable
	}
	return s.TokenStore.Get(ctx, token)
}

func (s *failingStore) GetByKey(ctx context.Context, key string) (domain.TokenData, error) {
	if s.failGet {
		return domain.TokenData{}, errUnreachable
	}
	return s.TokenStore.GetByKey(ctx, key)
}

func (s *failingStore) Store(ctx context.Context, data domain.TokenData) error {
	if s.failStore {
		return errUnreachable
	}
	return s.TokenStore.Store(ctx, data)
}
