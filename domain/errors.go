package domain

import "errors"

// Sentinel errors returned by the service, to be tested with errors.Is.
// Errors that wrap them say what was wrong and never contain a token secret.
var (
	// ErrInvalidRequest means the request itself is malformed: an invalid
	// parent, an empty service, a bad scope, IP address or lifetime.
	ErrInvalidRequest = errors.New("invalid request")

	// ErrInvalidToken means a token is malformed, unknown, or expired (or
	// about to expire).
	ErrInvalidToken = errors.New("invalid token")

	// ErrParentNotRecorded means the repository has no row for the parent
	// of a child being recorded: the token store knows the parent, the
	// repository does not. It always comes with ErrInvalidToken.
	ErrParentNotRecorded = errors.New("parent token is not in the repository")

	// ErrPermissionDenied means the parent token lacks a requested scope.
	ErrPermissionDenied = errors.New("permission denied")

	// ErrInsufficientLifetime means the parent expires before the minimum
	// lifetime the caller asked for.
	ErrInsufficientLifetime = errors.New("insufficient token lifetime")

	// ErrTooManyChildren means the parent has already created as many
	// children as its budget allows within the budget's window (see
	// ChildBudget). The error that wraps it is a *TooManyChildrenError,
	// which says when to try again.
	ErrTooManyChildren = errors.New("too many child tokens")
)
