package ports

//go:generate go tool mockgen -destination ../mocks/observer.go -package mocks -source observer.go

import "github.com/tokencache/tokencache/domain"

// Observer is told what the service does, for metrics. Its methods must
// return quickly and never block on I/O, so they take no context. No
// argument ever carries a secret.
type Observer interface {
	// CacheHit is called when a cached child is handed out.
	CacheHit(tokenType domain.TokenType)

	// CacheMiss is called when no usable child was cached.
	CacheMiss(tokenType domain.TokenType)

	// RepositoryLookup is called after looking for an existing child in
	// the repository; found says whether a reusable one was handed out.
	RepositoryLookup(tokenType domain.TokenType, found bool)

	// ChildCreated is called after a new child was stored in both stores.
	ChildCreated(tokenType domain.TokenType)

	// ChildRefused is called when no child is created because its parent
	// has already created as many as its budget allows within the window
	// (domain.ErrTooManyChildren).
	ChildRefused(tokenType domain.TokenType)

	// StoreError is called when the token store or repository fails;
	// operation names what was being done, such as "token_store.get".
	StoreError(operation string)
}
