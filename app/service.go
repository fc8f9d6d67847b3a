package app

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/keylock"
	"github.com/tokencache/tokencache/ports"
)

// Caches are the two child caches: one for notebook tokens, one for
// internal tokens.
type Caches struct {
	Notebook ports.ChildCache
	Internal ports.ChildCache
}

// TokenCacheService hands out notebook and internal child tokens of a
// parent token. It is safe for any number of goroutines: requests for the
// same child take turns and share one creation, while requests for
// different children never wait for each other.
type TokenCacheService struct {
	store    ports.TokenStore
	repo     ports.TokenRepository
	caches   Caches
	clock    ports.Clock
	observer ports.Observer
	logger   *slog.Logger
	lifetime time.Duration
	budget   domain.ChildBudget
	random   io.Reader
	flights  keylock.Flights[*outcome]
	cleanups *cleaner

	// creationTimeout bounds the work each request does holding its
	// child's lock, which runs detached from the caller (runLocked), and
	// each read of a cached child (readBounds); inFlight tracks that work.
	creationTimeout time.Duration
	readBounds      *readBounds
	inFlight        *workGroup
	// live counts the work whose caller still waits for it, which
	// abandoned work lets go first, for at least abandonedQuiet after its
	// caller left and at most abandonedYieldLimit (see abandoned.go).
	live                *liveWork
	abandonedYieldLimit time.Duration
	abandonedQuiet      time.Duration
}

// NewTokenCacheService composes the service from its ports. Call Close
// when done with it. cfg supplies the token lifetime, the child budget and
// the creation timeout; zero fields take their defaults.
func NewTokenCacheService(
	cfg Config,
	store ports.TokenStore,
	repo ports.TokenRepository,
	caches Caches,
	clock ports.Clock,
	observer ports.Observer,
	logger *slog.Logger,
) (*TokenCacheService, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &TokenCacheService{
		store:    store,
		repo:     repo,
		caches:   caches,
		clock:    clock,
		observer: observer,
		logger:   logger,
		lifetime: cfg.TokenLifetime,
		budget:   cfg.childBudget(),
		random:   rand.Reader,
		cleanups: newCleaner(store, repo, observer, logger),

		creationTimeout:     cfg.CreationTimeout,
		readBounds:          &readBounds{timeout: cfg.CreationTimeout},
		inFlight:            newWorkGroup(),
		live:                newLiveWork(cfg.DatabaseMaxConnections),
		abandonedYieldLimit: abandonedYieldLimit,
		abandonedQuiet:      abandonedQuiet,
	}, nil
}

// GetNotebookToken returns a notebook token of parent, carrying the
// parent's scopes, with at least minimumLifetime left. When that is 0 (not
// set), a cached child needs half of its own lifetime left, and one found
// in the repository half the token lifetime, or as long as the parent
// lives if that is shorter. ipAddress is recorded in the change history of
// a new token. Errors wrap domain.ErrInvalidRequest,
// domain.ErrInvalidToken or domain.ErrInsufficientLifetime for a bad
// request, and domain.ErrTooManyChildren when a new child is needed but the
// parent has made as many as Config.MaxChildrenPerParent allows; any other
// error is a store failure.
func (s *TokenCacheService) GetNotebookToken(ctx context.Context, parent domain.TokenData, ipAddress string, minimumLifetime time.Duration) (domain.Token, error) {
	req := domain.NewNotebookRequest(parent, ipAddress, minimumLifetime)
	return s.getChild(ctx, &req)
}

// GetInternalToken returns an internal token of parent for service with
// the given scopes, which the parent must hold (else the error wraps
// domain.ErrPermissionDenied). Otherwise it behaves as GetNotebookToken.
func (s *TokenCacheService) GetInternalToken(ctx context.Context, parent domain.TokenData, service string, scopes []string, ipAddress string, minimumLifetime time.Duration) (domain.Token, error) {
	req := domain.NewInternalRequest(parent, service, scopes, ipAddress, minimumLifetime)
	return s.getChild(ctx, &req)
}

// Clear empties both child caches. Children stay in the stores, where the
// next request finds them.
func (s *TokenCacheService) Clear(ctx context.Context) error {
	s.caches.Notebook.Clear()
	s.caches.Internal.Clear()
	return nil
}

// DrainCleanups waits for the store work of requests under way, which
// goes on after a caller gives up (see Config.CreationTimeout) and may
// yet fail and leave a clean-up; then it retries every pending clean-up
// now and waits until none is left. If ctx ends first, or the service is
// closed (once its last attempt is over) and so retries nothing any more,
// it returns an error saying how much is left. A clean-up is pending when a creation failed
// and the child it had written to the token store could not be deleted at
// once (or whether its commit took effect could not be told): it is
// retried in the background until it succeeds.
func (s *TokenCacheService) DrainCleanups(ctx context.Context) error {
	if err := s.inFlight.wait(ctx); err != nil {
		return err
	}
	return s.cleanups.drain(ctx)
}

// PendingCleanups returns how many clean-ups are pending (see
// DrainCleanups).
func (s *TokenCacheService) PendingCleanups() int {
	return s.cleanups.count()
}

// Close stops new store work from starting, waits for the store work of
// requests under way, which goes on after a caller gives up for at most
// Config.CreationTimeout, then stops the background clean-up, cutting
// short any round of retries under way, after a last attempt of at most 5
// seconds, logging each token it leaves behind. Every call returns once
// that is done, a second one too. Afterwards a request the cache answers
// is still answered, but one that needs the repository gets an error
// wrapping ErrClosed, even one that was waiting for another's work when
// Close began: the stores are about to be closed.
func (s *TokenCacheService) Close() {
	s.inFlight.close() // each piece of work is bounded
	s.cleanups.close()
}

// ErrClosed is what a request that needs the repository gets once the
// service is closed (see Close).
var ErrClosed = errors.New("the token cache service is closed")

func (s *TokenCacheService) cacheFor(t domain.TokenType) ports.ChildCache {
	if t == domain.TokenTypeNotebook {
		return s.caches.Notebook
	}
	return s.caches.Internal
}
