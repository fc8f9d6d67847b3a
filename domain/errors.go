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

	// ErrPermissionDenied means the parent token lacks a requested scope.
	ErrPermissionDenied = errors.New("permission denied")

	// ErrInsufficientLifetime means the parent expires before the minimum
	// lifetime the caller asked for.
	ErrInsufficientLifetime = errors.New("insufficient token lifetime")
)
