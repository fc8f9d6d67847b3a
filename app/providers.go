package app

import (
	"log/slog"

	"github.com/google/wire"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/ports"
)

// ServiceSet provides the service from its ports, which another set must
// provide along with Config.
var ServiceSet = wire.NewSet(ProvideTokenCacheService, ProvideLogger)

// MemoryStoresSet provides the token store and repository from
// adapters/memory. It needs a ports.Clock.
var MemoryStoresSet = wire.NewSet(
	memory.NewTokenStore,
	wire.Bind(new(ports.TokenStore), new(*memory.TokenStore)),
	memory.NewRepository,
	wire.Bind(new(ports.TokenRepository), new(*memory.Repository)),
)

// InMemory is the service composed over the in-memory adapters, with the
// stores it reads and writes: a parent must be in both (its data in Store,
// its row in Repository) before the service makes it a child, as
// Gafaelfawr has written a session into its stores before any request
// presents it.
type InMemory struct {
	Service    *TokenCacheService
	Store      *memory.TokenStore
	Repository *memory.Repository
}

// ProcessSet provides what lives in the process whatever the stores: the
// child caches and the real time.
var ProcessSet = wire.NewSet(
	ProvideMemoryCaches,
	wire.InterfaceValue(new(ports.Clock), memory.SystemClock{}),
)

// MemorySet provides every port from adapters/memory, reading the real
// time: the embedded default.
var MemorySet = wire.NewSet(
	MemoryStoresSet,
	ProcessSet,
	memory.NewObserver,
	wire.Bind(new(ports.Observer), new(*memory.Observer)),
)

// ProvideTokenCacheService is NewTokenCacheService with a cleanup that
// closes the service (see TokenCacheService.Close). Wire runs it before
// the cleanups of the stores the service was built on, so that its last
// clean-ups can still reach them.
func ProvideTokenCacheService(
	cfg Config,
	store ports.TokenStore,
	repo ports.TokenRepository,
	caches Caches,
	clock ports.Clock,
	observer ports.Observer,
	logger *slog.Logger,
) (*TokenCacheService, func(), error) {
	svc, err := NewTokenCacheService(cfg, store, repo, caches, clock, observer, logger)
	if err != nil {
		return nil, nil, err
	}
	return svc, svc.Close, nil
}

// ProvideLogger returns the process's default logger.
func ProvideLogger() *slog.Logger {
	return slog.Default()
}

// ProvideMemoryCaches returns two in-memory LRU caches of cfg.CacheSize
// entries each.
func ProvideMemoryCaches(cfg Config) (Caches, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Caches{}, err
	}
	notebook, err := memory.NewChildCache(cfg.CacheSize)
	if err != nil {
		return Caches{}, err
	}
	internal, err := memory.NewChildCache(cfg.CacheSize)
	if err != nil {
		return Caches{}, err
	}
	return Caches{Notebook: notebook, Internal: internal}, nil
}
