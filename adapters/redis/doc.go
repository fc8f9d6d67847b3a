// Package redis implements ports.TokenStore on Redis, in the format Python
// Gafaelfawr uses, so that tokencache and Gafaelfawr can share one Redis and
// each read the tokens the other writes.
//
// A token's data lives under "token:<key>" as a Fernet token, made with the
// deployment's session secret, of the data's JSON, and expires from Redis
// when the token does.
//
// With a ClientCache, a store serves the tokens it read before from
// process memory, decoded, and Redis tells it (CLIENT TRACKING) when
// another client changes or deletes one.
package redis
