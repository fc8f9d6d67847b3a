package ports

//go:generate go tool mockgen -destination ../mocks/token_store.go -package mocks -source token_store.go

import (
	"context"

	"github.com/tokencache/tokencache/domain"
)

// TokenStore holds token data by token key, each entry living until its
// token expires (Gafaelfawr keeps this in Redis).
type TokenStore interface {
	// Get returns the data of token. It returns ErrNotFound if no live
	// token has that key or if the secret does not match (compared in
	// constant time), so a caller cannot tell the two apart.
	Get(ctx context.Context, token domain.Token) (domain.TokenData, error)

	// GetByKey returns the data of the live token with that key, or
	// ErrNotFound.
	GetByKey(ctx context.Context, key string) (domain.TokenData, error)

	// Store writes data under its token's key, replacing any entry there,
	// to live until data.Expires (forever if that is zero; Redis's time
	// to live is in whole seconds, rounded down, so an entry there may go
	// up to a second before). Its times are read back in whole seconds
	// and its scopes sorted without duplicates, as Gafaelfawr's format
	// holds them. It fails, writing nothing, if the token has less than
	// one second to live.
	Store(ctx context.Context, data domain.TokenData) error

	// Delete removes the token with that key. Deleting a missing token is
	// not an error.
	Delete(ctx context.Context, key string) error
}
