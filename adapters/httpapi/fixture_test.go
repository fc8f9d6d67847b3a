package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// start is the fixed time at which every fixture's clock starts.
var start = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture is the handler over the real service and the in-memory adapters,
// with a manual clock and captured logs. At cleanup it checks that no
// token secret it has seen reached a log or a response body.
type fixture struct {
	clock   *memory.ManualClock
	store   *memory.TokenStore
	repo    *memory.Repository
	metrics *httpapi.Metrics
	service *app.TokenCacheService
	handler http.Handler
	logs    *syncBuffer

	mu      sync.Mutex
	secrets []string
	bodies  []string
}

// options changes what newFixture builds.
type options struct {
	wrap    func(ports.TokenStore) ports.TokenStore // wraps the fixture's memory store
	issuer  httpapi.ChildIssuer                     // default: the service
	timeout time.Duration
	health  httpapi.HealthChecks
	metrics *httpapi.Metrics // default: new metrics
}

func newFixture(t *testing.T, opts options) *fixture {
	t.Helper()
	f := &fixture{
		clock:   memory.NewManualClock(start),
		metrics: opts.metrics,
		logs:    &syncBuffer{},
	}
	if f.metrics == nil {
		f.metrics = httpapi.NewMetrics()
	}
	f.store = memory.NewTokenStore(f.clock)
	f.repo = memory.NewRepository()
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var store ports.TokenStore = f.store
	if opts.wrap != nil {
		store = opts.wrap(store)
	}
	caches, err := app.ProvideMemoryCaches(app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.service, err = app.NewTokenCacheService(app.Config{}, store, f.repo, caches, f.clock, f.metrics, logger)
	if err != nil {
		t.Fatal(err)
	}
	issuer := opts.issuer
	if issuer == nil {
		issuer = f.service
	}
	health := opts.health
	if health == nil {
		health = httpapi.HealthChecks{httpapi.TokenStoreCheck(store), httpapi.RepositoryCheck(f.repo)}
	}
	f.handler = httpapi.NewHandler(httpapi.Config{
		Issuer: issuer, Parents: store, Health: health, Metrics: f.metrics,
		Logger: logger, RequestTimeout: opts.timeout,
	})
	t.Cleanup(func() { f.checkNoSecretLeaked(t) })
	return f
}

// mintParent adds a session token for username with scopes, living for
// lifetime, to both stores, as tokencache mint-session does.
func (f *fixture) mintParent(t *testing.T, username string, scopes []string, lifetime time.Duration) domain.Token {
	t.Helper()
	ctx := context.Background()
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	data := domain.TokenData{
		Token: token, Username: username, Type: domain.TokenTypeSession,
		Scopes: domain.CanonicalScopes(scopes), Created: now, Expires: now.Add(lifetime),
	}
	if err := f.store.Store(ctx, data); err != nil {
		t.Fatal(err)
	}
	tx, err := f.repo.Begin(ctx, domain.CacheKey("parent "+token.Key))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: data, Actor: username}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	f.remember(token.Secret)
	return token
}

// get sends GET /auth/delegate?query with the given Authorization header
// ("" for none) and returns the response, its body read.
func (f *fixture) get(t *testing.T, authorization, target string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if tok := resp.Header.Get("X-Auth-Request-Token"); tok != "" {
		if child, err := domain.ParseToken(tok); err == nil {
			f.remember(child.Secret)
		}
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	return resp, string(body)
}

// delegate asks for a child with token as the bearer token.
func (f *fixture) delegate(t *testing.T, token domain.Token, query string) (*http.Response, string) {
	t.Helper()
	return f.get(t, "Bearer "+token.String(), "/auth/delegate?"+query)
}

func (f *fixture) remember(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, secret)
}

func (f *fixture) checkNoSecretLeaked(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	logs := f.logs.String()
	for _, s := range f.secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a token secret appears in the log:\n%s", logs)
		}
		for _, b := range f.bodies {
			if strings.Contains(b, s) {
				t.Errorf("a token secret appears in a response body: %s", b)
			}
		}
	}
}

// childData reads a child the handler handed out from the token store.
func (f *fixture) childData(t *testing.T, resp *http.Response) domain.TokenData {
	t.Helper()
	child, err := domain.ParseToken(resp.Header.Get("X-Auth-Request-Token"))
	if err != nil {
		t.Fatalf("X-Auth-Request-Token: %v", err)
	}
	data, err := f.store.Get(context.Background(), child)
	if err != nil {
		t.Fatalf("child not in the token store: %v", err)
	}
	return data
}

// syncBuffer is a bytes.Buffer that handlers on several goroutines may
// log to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
