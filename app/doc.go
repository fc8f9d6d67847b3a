// Package app holds TokenCacheService, which hands out delegated child
// tokens of a parent token, reusing cached and stored children where it can,
// and the Wire injectors that compose it from adapters.
//
// The service depends only on domain and ports; only the provider sets and
// injectors name concrete adapters.
package app
