package httpapi

import (
	"context"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// ChildIssuer hands out delegated child tokens. *app.TokenCacheService
// implements it; it is declared here, where it is used, so that handler
// tests can substitute their own.
type ChildIssuer interface {
	// GetNotebookToken returns a notebook child of parent. Errors wrap
	// domain.ErrInvalidRequest, domain.ErrInvalidToken or
	// domain.ErrInsufficientLifetime for a bad request, and
	// domain.ErrTooManyChildren when the parent may make no more children
	// for now; any other error is a store failure.
	GetNotebookToken(ctx context.Context, parent domain.TokenData, ipAddress string, minimumLifetime time.Duration) (domain.Token, error)

	// GetInternalToken returns an internal child of parent for service
	// with scopes. It fails as GetNotebookToken does, and with an error
	// wrapping domain.ErrPermissionDenied if parent lacks a scope.
	GetInternalToken(ctx context.Context, parent domain.TokenData, service string, scopes []string, ipAddress string, minimumLifetime time.Duration) (domain.Token, error)
}

// ParentStore looks up the parent token a request presents. Every
// ports.TokenStore is one.
type ParentStore interface {
	// Get returns the data of token, or an error wrapping
	// ports.ErrNotFound if no live token has its key or its secret does not
	// match.
	Get(ctx context.Context, token domain.Token) (domain.TokenData, error)
}
