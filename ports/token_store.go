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
	// to live until data.Expires (forever if that is zero). As Gafaelfawr
	// does, it counts the entry's time to live in whole seconds from the
	// start of the current second, so the entry may outlast the expiry by
	// up to a second, which every read checks. Its times are read back in
	// whole seconds and its scopes sorted without duplicates, as
	// Gafaelfawr's format holds them. It fails, writing nothing, if that
	// time to live is under a second: if the token expires less than a
	// second after the start of the current second.
	Store(ctx context.Context, data domain.TokenData) error

	// Delete removes the token with that key. Deleting a missing token is
	// not an error.
	Delete(ctx context.Context, key string) error
}

// LocalTokenReader serves, without I/O, tokens a TokenStore keeps copies of
// in process memory: the Redis store does with a client cache, and without
// one holds nothing there. Callers that would otherwise hand a read to
// another goroutine, to answer by a deadline whatever the store does, can
// serve what it holds at once. It is safe for concurrent use, as the
// store is.
type LocalTokenReader interface {
	// GetLocal returns what Get would return for token, and true, when
	// the process holds a copy it may serve now; otherwise false, and Get
	// is to be asked: no copy held, one past its expiry or no longer
	// vouched for, a secret that does not match, or an ended ctx. It does
	// no I/O, and a false changes nothing that the Get after it sees.
	GetLocal(ctx context.Context, token domain.Token) (domain.TokenData, bool)
}
