package memory_test

import (
	"testing"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/ports/porttest"
)

func TestTokenStoreConformance(t *testing.T) {
	porttest.TestTokenStore(t, memory.NewTokenStore(memory.SystemClock{}))
}

func TestRepositoryConformance(t *testing.T) {
	porttest.TestTokenRepository(t, memory.NewRepository())
}
