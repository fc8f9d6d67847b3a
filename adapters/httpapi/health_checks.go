package httpapi

import (
	"context"
	"errors"

	"github.com/tokencache/tokencache/ports"
)

// probeKey names no real token (real keys are 22 characters), so the
// probes below read nothing and write nothing.
const probeKey = "tokencache-healthz-probe"

// TokenStoreCheck checks a token store by looking up a token that does not
// exist: a round trip through the same code as a real request. A miss is
// the healthy answer.
func TokenStoreCheck(store ports.TokenStore) HealthCheck {
	return HealthCheck{Name: "token_store", Check: func(ctx context.Context) error {
		_, err := store.GetByKey(ctx, probeKey)
		if err != nil && !errors.Is(err, ports.ErrNotFound) {
			return err
		}
		return nil
	}}
}

// RepositoryCheck checks a repository by asking whether a token that does
// not exist was ever committed: one read of the token table, which also
// catches a database whose schema is missing. It takes no lock, so probes
// from every replica, however many at once, never queue behind one another
// or behind a holder whose connection went silent.
func RepositoryCheck(repo ports.TokenRepository) HealthCheck {
	return HealthCheck{Name: "repository", Check: func(ctx context.Context) error {
		_, err := repo.TokenExists(ctx, probeKey)
		return err
	}}
}
