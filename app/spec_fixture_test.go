package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/mocks"
	"github.com/tokencache/tokencache/ports"
)

// The specs drive the service against gomock stores, to pin down which
// store calls each rule makes and in what order. The caches, clock and
// observer are the real in-memory ones: they hold state, not interactions.

const specLifetime = 24 * time.Hour

var specNow = time.Date(2026, 11, 28, 12, 0, 0, 500_000_000, time.UTC)

// specLifeFrom is specNow in whole seconds, from which the rules measure
// life left, as Gafaelfawr does.
var specLifeFrom = specNow.Truncate(time.Second)

type fixture struct {
	ctrl     *gomock.Controller
	store    *mocks.MockTokenStore
	local    *mocks.MockLocalTokenReader // the store's reads from process memory
	repo     *mocks.MockTokenRepository
	tx       *mocks.MockRepositoryTx
	clock    *memory.ManualClock
	observer *memory.Observer
	logs     *bytes.Buffer
	svc      *TokenCacheService
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctrl := gomock.NewController(t)
	f := &fixture{
		ctrl:     ctrl,
		store:    mocks.NewMockTokenStore(ctrl),
		local:    mocks.NewMockLocalTokenReader(ctrl),
		repo:     mocks.NewMockTokenRepository(ctrl),
		tx:       mocks.NewMockRepositoryTx(ctrl),
		clock:    memory.NewManualClock(specNow),
		observer: memory.NewObserver(),
		logs:     &bytes.Buffer{},
	}
	caches, err := ProvideMemoryCaches(Config{CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	// Without a child budget, whose count rule 10's specs pin.
	cfg := Config{TokenLifetime: specLifetime, MaxChildrenPerParent: -1}
	store := localStore{f.store, f.local}
	f.svc, err = NewTokenCacheService(cfg, store, f.repo, caches, f.clock, f.observer, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.svc.Close) // before the mocks check their calls
	return f
}

// localStore is a token store with a client cache: it reads from process
// memory too.
type localStore struct {
	*mocks.MockTokenStore
	*mocks.MockLocalTokenReader
}

// parent is a session token expiring in 7 days.
func parent(t *testing.T) domain.TokenData {
	t.Helper()
	created := specNow.Add(-time.Hour).Truncate(time.Second)
	return domain.TokenData{
		Token:    newSpecToken(t),
		Username: "alice",
		Type:     domain.TokenTypeSession,
		Scopes:   []string{"exec:notebook", "read:all", "read:tap"},
		Created:  created,
		Expires:  created.Add(7 * 24 * time.Hour),
		Name:     "Alice Example",
		Email:    "alice@example.com",
		UID:      4123,
		GID:      4124,
		Groups:   []domain.Group{{Name: "g_users", ID: 4124}},
	}
}

func newSpecToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// childOf is stored data of a child of p created at created with the given
// lifetime (capped at nothing: the caller decides).
func childOf(t *testing.T, p domain.TokenData, typ domain.TokenType, service string, scopes []string, created time.Time, lifetime time.Duration) domain.TokenData {
	t.Helper()
	created = created.UTC().Truncate(time.Second)
	return domain.TokenData{
		Token: newSpecToken(t), Username: p.Username, Type: typ, Service: service,
		Scopes: scopes, Created: created, Expires: created.Add(lifetime),
		Name: p.Name, Email: p.Email, UID: p.UID, GID: p.GID, Groups: p.Groups,
	}
}

// expectCreate expects a whole successful creation after a repository
// lookup that finds nothing, and records the stored child in *created.
func (f *fixture) expectCreate(created *domain.TokenData) {
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return("", errNotFoundSpec)
	f.store.EXPECT().Store(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.TokenData) error {
		*created = d
		return nil
	})
	f.tx.EXPECT().AddToken(gomock.Any(), gomock.Any()).Return(nil)
	f.tx.EXPECT().Commit(gomock.Any()).Return(nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
}

// expectLookupFinds expects a repository lookup that finds childKey.
func (f *fixture) expectLookupFinds(childKey string) {
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(f.tx, nil)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return(childKey, nil)
	f.tx.EXPECT().Rollback(gomock.Any()).Return(nil)
}

// cacheNotebook makes the service cache child as the answer to the
// notebook request of p, through a repository hit.
func (f *fixture) cacheNotebook(t *testing.T, p domain.TokenData, child domain.TokenData) {
	t.Helper()
	f.expectLookupFinds(child.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	got, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("priming the cache: got %v, %v", got.Key, err)
	}
}

// cacheInternal does as cacheNotebook for an internal request.
func (f *fixture) cacheInternal(t *testing.T, p domain.TokenData, service string, scopes []string, child domain.TokenData) {
	t.Helper()
	f.expectLookupFinds(child.Token.Key)
	f.store.EXPECT().GetByKey(gomock.Any(), child.Token.Key).Return(child, nil)
	got, err := f.svc.GetInternalToken(context.Background(), p, service, scopes, "192.0.2.1", 0)
	if err != nil || got != child.Token {
		t.Fatalf("priming the cache: got %v, %v", got.Key, err)
	}
}

// errNotFoundSpec is a wrapped miss, as adapters return it.
var errNotFoundSpec = fmt.Errorf("spec lookup: %w", ports.ErrNotFound)

// errUnreachable stands for a store that does not answer.
var errUnreachable = errors.New("dial tcp 127.0.0.1:1: connection refused")

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// wantStoreErrors checks the store failures o counted for each operation
// in want, the label operators alert on.
func wantStoreErrors(t *testing.T, o *memory.Observer, want map[string]int) {
	t.Helper()
	for op, n := range want {
		if got := o.StoreErrorsFor(op); got != n {
			t.Errorf("store errors for %s = %d, want %d", op, got, n)
		}
	}
}
