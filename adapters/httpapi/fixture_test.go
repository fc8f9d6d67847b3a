package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/statecookie"
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
	cookies *statecookie.Codec // makes state cookies the handler reads

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

	noCookies       bool // the handler gets no SessionCookies
	trustedProxies  []netip.Prefix
	allowedServices []string
	tokenLifetime   time.Duration // the handler's TokenLifetime; the service keeps its default
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
	f.cookies, err = statecookie.New(newSessionSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	var cookies httpapi.SessionCookies = f.cookies
	if opts.noCookies {
		cookies = nil
	}
	f.handler = httpapi.NewHandler(httpapi.Config{
		Issuer: issuer, Parents: store, Cookies: cookies, TrustedProxies: opts.trustedProxies,
		AllowedServices: opts.allowedServices, TokenLifetime: opts.tokenLifetime, Clock: f.clock,
		Health: health, Metrics: f.metrics, Logger: logger, RequestTimeout: opts.timeout,
	})
	t.Cleanup(func() { f.checkNoSecretLeaked(t) })
	return f
}

// mintParent adds a session token for username with scopes, living for
// lifetime, to both stores, as tokencache mint-session does.
func (f *fixture) mintParent(t *testing.T, username string, scopes []string, lifetime time.Duration) domain.Token {
	t.Helper()
	return f.mintParentWith(t, username, scopes, lifetime, func(*domain.TokenData) {})
}

// mintParentWith mints a parent as mintParent does, after edit has changed
// its data.
func (f *fixture) mintParentWith(t *testing.T, username string, scopes []string, lifetime time.Duration,
	edit func(*domain.TokenData)) domain.Token {
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
	edit(&data)
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
	return f.do(t, req)
}

// do sends req and returns the response, its body read.
func (f *fixture) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
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
	// Challenges and error headers are read by people as bodies are.
	f.bodies = append(f.bodies, string(body),
		resp.Header.Get("WWW-Authenticate"), resp.Header.Get("X-Error-Body"))
	f.mu.Unlock()
	return resp, string(body)
}

// cookie returns the value of a state cookie holding token, as Gafaelfawr
// sets it at login.
func (f *fixture) cookie(t *testing.T, token domain.Token) string {
	t.Helper()
	value, err := f.cookies.Encode(token)
	if err != nil {
		t.Fatal(err)
	}
	return value
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

// newSessionSecret returns a random Fernet key in the form Gafaelfawr's
// configuration holds.
func newSessionSecret(t *testing.T) string {
	t.Helper()
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(key[:])
}
