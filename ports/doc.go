// Package ports holds the driven-side interfaces of tokencache's core: the
// stores, caches, clock and observer that app.TokenCacheService uses and
// that adapters implement. (In some layouts "ports" means HTTP handlers;
// here it does not: the HTTP API is a driving adapter in adapters/httpapi.)
//
// All implementations must be safe for concurrent use by any number of
// goroutines.
package ports

import "errors"

// ErrNotFound is returned, possibly wrapped, when a token or child is not
// there. Test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrLockNotTaken is returned, wrapped, by the first call of a unit of work
// begun with TokenRepository.BeginDeferred that failed before the unit's
// lock was granted (its wait past the call's deadline, say): the failure
// Begin would have returned. Test for it with errors.Is.
var ErrLockNotTaken = errors.New("repository lock not taken")
