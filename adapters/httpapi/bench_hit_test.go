package httpapi_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// BenchmarkDelegateHit measures the handler's own work for a hit, in
// process, over the in-memory stores, which stand for the client cache's
// memory and say so (memoryHeld): GET /auth/delegate for an internal
// child already cached, with the request log on at info. It reports
// allocations, which unlike the time do not depend on what else the
// machine runs.
func BenchmarkDelegateHit(b *testing.B) {
	clock := memory.SystemClock{}
	store := memory.NewTokenStore(clock)
	repo := memory.NewRepository()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	caches, err := app.ProvideMemoryCaches(app.Config{})
	if err != nil {
		b.Fatal(err)
	}
	metrics := httpapi.NewMetrics()
	held := &memoryHeld{TokenStore: store}
	service, err := app.NewTokenCacheService(app.Config{}, held, repo, caches, clock, metrics, logger)
	if err != nil {
		b.Fatal(err)
	}
	handler := httpapi.NewHandler(httpapi.Config{
		Issuer: service, Parents: held, Clock: clock, Metrics: metrics, Logger: logger,
		Health: httpapi.HealthChecks{},
	})
	parent := addBenchParent(b, store, repo)
	req := httptest.NewRequest(http.MethodGet, "/auth/delegate?delegate_to=portal&delegate_scope=read:all", nil)
	req.Header.Set("Authorization", "Bearer "+parent.String())
	serve := func() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	serve() // makes the child
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

func addBenchParent(b *testing.B, store *memory.TokenStore, repo *memory.Repository) domain.Token {
	b.Helper()
	ctx := context.Background()
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	data := domain.TokenData{
		Token: token, Username: "bench", Type: domain.TokenTypeSession,
		Scopes: []string{"read:all", "user:token"}, Created: now, Expires: now.Add(2 * time.Hour),
	}
	if err := store.Store(ctx, data); err != nil {
		b.Fatal(err)
	}
	tx, err := repo.Begin(ctx, domain.CacheKey("parent "+token.Key))
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: data, Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return token
}
