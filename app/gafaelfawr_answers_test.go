package app_test

// Answers Gafaelfawr could give: random sequences of requests, from three
// processes on shared stores, each answer checked against a transcription
// of Gafaelfawr's TokenCacheService (services/token_cache.py: its cache's
// validity check and minimum expiration) and its repository lookups
// (storage/token.py), which may hand out any matching row. The clock is
// often set at a child's boundary (its half-life, the minimum lifetime,
// half the token lifetime, give or take a fraction of a second). Only
// requests Gafaelfawr's ingress accepts are made, and the parents' scopes
// never change: the rules this module keeps stricter on purpose (README)
// are left out.

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/adapters/postgres"
	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// referenceProcess is one process: the service, its token lifetime, and
// the cache Gafaelfawr would hold in its place.
type referenceProcess struct {
	svc      *app.TokenCacheService
	lifetime time.Duration
	cache    map[string]domain.Token // Gafaelfawr's cache: what it last returned, by key
}

// sharedStores are the stores the processes share, with a way to read the
// repository rows of a parent's children.
type sharedStores struct {
	clock *memory.ManualClock
	store *memory.TokenStore
	repo  ports.TokenRepository
	rows  func(parent string) []domain.TokenData // the repository's rows of parent's children
}

// referenceKey is the key of Gafaelfawr's cache (cache.py).
func referenceKey(p domain.TokenData, typ domain.TokenType, service string, scopes []string) string {
	exp := "None"
	if !p.Expires.IsZero() {
		exp = p.Expires.UTC().String()
	}
	return strings.Join([]string{string(typ), p.Token.Key, exp, service, strings.Join(domain.CanonicalScopes(scopes), " ")}, "\x00")
}

// referenceValid is _is_token_valid (token_cache.py 407-453).
func (w *sharedStores) referenceValid(tok domain.Token, min time.Duration, scopes []string, internal bool) bool {
	data, err := w.store.Get(context.Background(), tok)
	if err != nil {
		return false
	}
	if internal && !domain.ScopesSubset(data.Scopes, scopes) {
		return false
	}
	if !data.Expires.IsZero() {
		var required time.Duration
		if min > 0 {
			required = min
		} else {
			required = data.Expires.Sub(data.Created) / 2
		}
		now := w.clock.Now().UTC().Truncate(time.Second)
		if data.Expires.Sub(now) < required {
			return false
		}
	}
	return true
}

// referenceCutOff is _minimum_expiration (token_cache.py 455-492).
func (w *sharedStores) referenceCutOff(p domain.TokenData, min, lifetime time.Duration) time.Time {
	now := w.clock.Now().UTC().Truncate(time.Second)
	var m time.Time
	if min > 0 {
		m = now.Add(min)
	} else {
		m = now.Add(lifetime / 2)
	}
	if !p.Expires.IsZero() && m.After(p.Expires) {
		m = p.Expires
	}
	return m
}

// referenceAnswers is the set of answers Gafaelfawr may give ("" = a new child).
func (w *sharedStores) referenceAnswers(pp *referenceProcess, p domain.TokenData, typ domain.TokenType, service string, scopes []string, min time.Duration) map[string]bool {
	internal := typ == domain.TokenTypeInternal
	if tok, ok := pp.cache[referenceKey(p, typ, service, scopes)]; ok && w.referenceValid(tok, min, scopes, internal) {
		return map[string]bool{tok.Key: true}
	}
	cut := w.referenceCutOff(p, min, pp.lifetime)
	out := map[string]bool{}
	for _, row := range w.rows(p.Token.Key) {
		k := row.Token.Key
		if row.Type != typ || row.Expires.IsZero() || row.Expires.Before(cut) {
			continue
		}
		if internal && (row.Service != service || domain.JoinScopes(row.Scopes) != domain.JoinScopes(scopes)) {
			continue
		}
		if _, err := w.store.GetByKey(context.Background(), k); err == nil {
			out[k] = true
		} else {
			out[""] = true
		}
	}
	if len(out) == 0 {
		out[""] = true
	}
	return out
}

// addParent puts a session token expiring at expires (never, if zero) in
// both stores.
func (w *sharedStores) addParent(t *testing.T, expires time.Time) domain.TokenData {
	t.Helper()
	ctx := context.Background()
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now().UTC().Truncate(time.Second)
	p := domain.TokenData{Token: token, Username: "alice", Type: domain.TokenTypeSession,
		Scopes: []string{"exec:notebook", "read:all", "read:tap"}, Created: now, Expires: expires}
	if err := w.store.Store(ctx, p); err != nil {
		t.Fatal(err)
	}
	tx, err := w.repo.Begin(ctx, domain.CacheKey("parent "+token.Key))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddToken(ctx, domain.TokenRecord{Data: p, Actor: "alice", IPAddress: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnswersAreThoseGafaelfawrCouldGive(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { answerLikeGafaelfawr(t, seed) })
	}
}

// memoryStores are the in-memory stores, on a manual clock set at start.
func memoryStores(start time.Time) *sharedStores {
	clock := memory.NewManualClock(start)
	repo := memory.NewRepositoryWithClock(clock)
	return &sharedStores{clock: clock, store: memory.NewTokenStore(clock), repo: repo, rows: func(parent string) []domain.TokenData {
		var out []domain.TokenData
		for _, k := range repo.Children(parent) {
			row, _ := repo.Token(k)
			out = append(out, row)
		}
		return out
	}}
}

// answerLikeGafaelfawr runs the sequence of seed on memory stores.
func answerLikeGafaelfawr(t *testing.T, seed uint64) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	answerLikeGafaelfawrIn(t, seed, memoryStores(start), start)
}

// answerLikeGafaelfawrIn runs 200 random steps of the sequence of seed on
// w, and fails t at the first answer Gafaelfawr could not give, or at a
// new child whose times or scopes differ from those Gafaelfawr gives.
func answerLikeGafaelfawrIn(t *testing.T, seed uint64, w *sharedStores, start time.Time) {
	r := mrand.New(mrand.NewPCG(seed, 7))
	clock := w.clock
	newProc := func(lifetime time.Duration) *referenceProcess {
		cfg := app.Config{TokenLifetime: lifetime, MaxChildrenPerParent: -1}
		caches, err := app.ProvideMemoryCaches(cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := app.NewTokenCacheService(cfg, w.store, w.repo, caches, clock, memory.NewObserver(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		return &referenceProcess{svc: svc, lifetime: lifetime, cache: map[string]domain.Token{}}
	}
	procs := []*referenceProcess{newProc(24 * time.Hour), newProc(24 * time.Hour), newProc(6 * time.Hour)}
	now0 := start
	parents := []domain.TokenData{
		w.addParent(t, now0.Add(7*24*time.Hour)),
		w.addParent(t, now0.Add(2*time.Hour)),
		w.addParent(t, time.Time{}),
		w.addParent(t, now0.Add(13*time.Hour)),
	}
	steps := []time.Duration{0, 300 * time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond, time.Second, time.Minute,
		5 * time.Minute, 30 * time.Minute, time.Hour, 3*time.Hour - 500*time.Millisecond, 3 * time.Hour, 12*time.Hour - 500*time.Millisecond, 12 * time.Hour}
	scopeSets := [][]string{{"read:all"}, {"read:all", "read:tap"}, {}}
	var stats [3]int
	for i := range 200 {
		if r.IntN(15) == 0 { // the parent's expiry extended (Gafaelfawr leaves children as they are)
			pi := r.IntN(len(parents))
			if !parents[pi].Expires.IsZero() {
				parents[pi].Expires = parents[pi].Expires.Add(time.Duration(r.IntN(30)) * time.Hour)
				_ = w.store.Store(context.Background(), parents[pi])
			}
		}
		clock.Advance(steps[r.IntN(len(steps))])
		if r.IntN(12) == 0 { // a revocation seen in Redis, rows still there
			p := parents[r.IntN(len(parents))]
			if kids := w.rows(p.Token.Key); len(kids) > 0 {
				_ = w.store.Delete(context.Background(), kids[r.IntN(len(kids))].Token.Key)
			}
			continue
		}
		pp := procs[r.IntN(len(procs))]
		pi := r.IntN(len(parents))
		p := parents[pi]
		var min time.Duration
		switch r.IntN(3) {
		case 1:
			min = 5 * time.Minute
		case 2:
			min = time.Duration(300+r.IntN(int(pp.lifetime/time.Second)-600)) * time.Second
		}
		var forced *domain.TokenData
		if r.IntN(2) == 0 { // go to a boundary of one of the parent's children
			if kids := w.rows(p.Token.Key); len(kids) > 0 {
				k := kids[r.IntN(len(kids))]
				if data, err := w.store.GetByKey(context.Background(), k.Token.Key); err == nil && !data.Expires.IsZero() {
					required := min
					if required == 0 {
						if r.IntN(2) == 0 {
							required = data.Expires.Sub(data.Created) / 2
						} else {
							required = pp.lifetime / 2
						}
					}
					fracs := []time.Duration{0, 500 * time.Millisecond, 999 * time.Millisecond, -time.Millisecond, -time.Second, time.Second}
					target := data.Expires.Add(-required).Add(fracs[r.IntN(len(fracs))])
					if target.After(clock.Now()) {
						clock.Set(target)
					}
					forced = &data
				}
			}
		}
		nowR := clock.Now().UTC().Truncate(time.Second)
		if !p.Expires.IsZero() {
			if p.Expires.Sub(nowR) < min || p.Expires.Sub(clock.Now()) < 2*time.Second {
				// Gafaelfawr's ingress refuses: renew the parent as a new login would.
				parents[pi] = w.addParent(t, clock.Now().UTC().Truncate(time.Second).Add(time.Duration(1+r.IntN(48))*time.Hour))
				continue
			}
		}
		typ, service, scopes := domain.TokenTypeNotebook, "", []string(nil)
		if r.IntN(2) == 0 {
			typ, service, scopes = domain.TokenTypeInternal, []string{"portal", "tap"}[r.IntN(2)], scopeSets[r.IntN(len(scopeSets))]
		}
		if forced != nil {
			typ, service, scopes = forced.Type, forced.Service, forced.Scopes
			if typ == domain.TokenTypeNotebook {
				scopes = nil
			}
		}
		want := w.referenceAnswers(pp, p, typ, service, scopes, min)
		before := map[string]bool{}
		for _, row := range w.rows(p.Token.Key) {
			before[row.Token.Key] = true
		}
		var got domain.Token
		var err error
		if typ == domain.TokenTypeNotebook {
			got, err = pp.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", min)
		} else {
			got, err = pp.svc.GetInternalToken(context.Background(), p, service, scopes, "192.0.2.1", min)
		}
		if err != nil {
			t.Fatalf("step %d: %s %s %v min %v: %v", i, typ, service, scopes, min, err)
		}
		gotKey := got.Key
		if !before[gotKey] {
			gotKey = ""
			data, _ := w.store.Get(context.Background(), got)
			wantExp := nowR.Add(pp.lifetime)
			if !p.Expires.IsZero() && p.Expires.Before(wantExp) {
				wantExp = p.Expires
			}
			if !data.Expires.Equal(wantExp) || !data.Created.Equal(nowR) {
				t.Errorf("step %d: new child created %v expires %v; Gafaelfawr: %v, %v", i, data.Created, data.Expires, nowR, wantExp)
			}
			wantScopes := domain.CanonicalScopes(scopes)
			if typ == domain.TokenTypeNotebook {
				wantScopes = domain.CanonicalScopes(p.Scopes)
			}
			if !slices.Equal(domain.CanonicalScopes(data.Scopes), wantScopes) {
				t.Errorf("step %d: scopes %v, Gafaelfawr %v", i, data.Scopes, wantScopes)
			}
		}
		if !want[gotKey] {
			t.Fatalf("step %d (t+%v, lifetime %v): %s %s %v min %v on parent %d (expires %v): got %q, Gafaelfawr may give only %v",
				i, clock.Now().Sub(start), pp.lifetime, typ, service, scopes, min, pi, p.Expires, gotKey, want)
		}
		pp.cache[referenceKey(p, typ, service, scopes)] = got
		if gotKey == "" {
			stats[0]++
		} else if len(want) > 1 || want[""] {
			stats[2]++
		} else {
			stats[1]++
		}
	}
	t.Logf("new %d, determined reuse %d, ambiguous %d", stats[0], stats[1], stats[2])
}

// TestAnswersAreThoseGafaelfawrCouldGive on the PostgreSQL repository, its
// rows read with SQL.
func TestIntegrationAnswersAreThoseGafaelfawrCouldGive(t *testing.T) {
	db, cleanup, err := postgres.Open(context.Background(), integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if err := postgres.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 15; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			clock := memory.NewManualClock(start)
			w := &sharedStores{clock: clock, store: memory.NewTokenStore(clock), repo: postgres.NewTokenRepository(db, nil),
				rows: func(parent string) []domain.TokenData {
					var rows []struct {
						Token, TokenType, Scopes string
						Service                  *string
						Expires                  *time.Time
					}
					if err := db.Select(&rows, `SELECT t.token AS token, t.token_type::text AS tokentype, t.scopes AS scopes, t.service AS service, t.expires AS expires
FROM subtoken s JOIN token t ON s.child = t.token WHERE s.parent = $1`, parent); err != nil {
						t.Fatal(err)
					}
					var out []domain.TokenData
					for _, r := range rows {
						d := domain.TokenData{Token: domain.Token{Key: r.Token}, Type: domain.TokenType(r.TokenType), Scopes: domain.SplitScopes(r.Scopes)}
						if r.Service != nil {
							d.Service = *r.Service
						}
						if r.Expires != nil {
							e := *r.Expires
							d.Expires = time.Date(e.Year(), e.Month(), e.Day(), e.Hour(), e.Minute(), e.Second(), e.Nanosecond(), time.UTC)
						}
						out = append(out, d)
					}
					return out
				}}
			answerLikeGafaelfawrIn(t, seed, w, start)
		})
	}
}
