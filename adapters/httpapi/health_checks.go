package httpapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
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

// RepositoryCheck checks a repository by beginning a unit of work, looking
// for a child of a parent that does not exist and rolling back, which also
// catches a database whose schema is missing.
func RepositoryCheck(repo ports.TokenRepository) HealthCheck {
	return HealthCheck{Name: "repository", Check: func(ctx context.Context) error {
		tx, err := repo.Begin(ctx, domain.CacheKey(probeKey))
		if err != nil {
			return err
		}
		q := domain.ChildQuery{ParentKey: probeKey, Type: domain.TokenTypeNotebook, MinExpiration: time.Now()}
		_, findErr := tx.FindChild(ctx, q)
		if err := tx.Rollback(ctx); err != nil {
			return fmt.Errorf("rolling back health check: %w", err)
		}
		if findErr != nil && !errors.Is(findErr, ports.ErrNotFound) {
			return findErr
		}
		return nil
	}}
}
