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

// LocalIssuer is a ChildIssuer that can also tell, without I/O, a child
// it holds in process memory (*app.TokenCacheService can, when its token
// store keeps copies there: the Redis store with a client cache). The
// handler serves such a child on the request's own goroutine,
// with no hand-over to a worker: that hand-over is there to answer by the
// request's deadline whatever a store does, and there is no store to wait
// for.
type LocalIssuer interface {
	// LocalNotebookToken returns what GetNotebookToken would, and true,
	// when it can tell that without I/O; otherwise false, and
	// GetNotebookToken is to be asked. A false counts no request, hit or
	// miss (GetNotebookToken counts them); a store's count of the reads it
	// served from memory does include a child read and found wanting.
	LocalNotebookToken(ctx context.Context, parent domain.TokenData, ipAddress string, minimumLifetime time.Duration) (domain.Token, bool)

	// LocalInternalToken is LocalNotebookToken for GetInternalToken.
	LocalInternalToken(ctx context.Context, parent domain.TokenData, service string, scopes []string, ipAddress string, minimumLifetime time.Duration) (domain.Token, bool)
}
