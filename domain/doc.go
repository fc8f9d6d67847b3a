// Package domain holds tokencache's types and rules: tokens, token data,
// cache keys, the reuse decision, child lifetimes and request validation.
//
// It imports only the standard library, performs no I/O and never reads the
// clock: every rule that depends on time takes the current time as an
// argument.
package domain
