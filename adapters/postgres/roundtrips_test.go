package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/internal/pgcount"
	"github.com/tokencache/tokencache/ports"
)

// openCounted opens the test database, migrated, through a proxy that
// counts round trips, closing both when t ends. opts go to Open.
func openCounted(t *testing.T, opts ...Option) (*sqlx.DB, *pgcount.Proxy) {
	t.Helper()
	mustOpenDB(t) // migrates
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := pgcount.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	u.Host = proxy.Addr()
	db, cleanup, err := Open(context.Background(), u.String(), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(cleanup)
	return db, proxy
}

// Each call of a unit of work costs one round trip once the connection
// has prepared the statements: Begin sends BEGIN with the lock, LookUpChild
// looks and counts in one statement, and AddToken writes its three rows in
// one statement. A creation is four round trips, a lookup that finds a
// child three. BeginDeferred sends nothing: BEGIN and the lock go with the
// first lookup, in its round trip, and a creation is three round trips, a
// lookup that finds a child two.
func TestRoundTripsPerCall(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		begin func(*TokenRepository, context.Context, domain.CacheKey) (ports.RepositoryTx, error)
		want  int // Begin's round trips
	}{
		{"Begin", (*TokenRepository).Begin, 1},
		{"BeginDeferred", (*TokenRepository).BeginDeferred, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			roundTripsPerCall(t, tt.begin, tt.want)
		})
	}
}

func roundTripsPerCall(t *testing.T, begin func(*TokenRepository, context.Context, domain.CacheKey) (ports.RepositoryTx, error), beginTrips int) {
	// One connection, which the warm-up prepares the statements on.
	db, proxy := openCounted(t, MaxConnections(1))
	repo := NewTokenRepository(db, nil)
	ctx := context.Background()
	parent := sessionRecord(t, 24*time.Hour)
	warmUp := childRecord(t, parent, domain.TokenTypeNotebook, "", parent.Data.Scopes, time.Hour)
	mustAdd(t, db, parent, warmUp)
	child := childRecord(t, parent, domain.TokenTypeInternal, "portal", []string{"read:all"}, time.Hour)
	cleanupTokens(t, db, child.Data.Token.Key)
	q := domain.ChildQuery{
		ParentKey: parent.Data.Token.Key, Type: domain.TokenTypeInternal, Service: "portal",
		Scopes: []string{"read:all"}, MinExpiration: testCreated,
	}
	lock := newLock(t)
	// Each lookup first and after the other: a deferred Begin's first
	// statement is prepared apart (see queryFirst).
	for _, findFirst := range []bool{true, false} {
		warm, err := begin(repo, ctx, newLock(t))
		if err != nil {
			t.Fatal(err)
		}
		find := func() {
			if _, err := warm.FindChild(ctx, q); !errors.Is(err, ports.ErrNotFound) {
				t.Fatalf("warm-up FindChild = %v, want ErrNotFound", err)
			}
		}
		lookUp := func() {
			if _, err := warm.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if findFirst {
			find()
			lookUp()
		} else {
			lookUp()
			find()
		}
		if err := warm.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}

	var tx ports.RepositoryTx
	steps := []struct {
		name string
		call func() error
		want int
	}{
		{"Begin", func() (err error) { tx, err = begin(repo, ctx, lock); return err }, beginTrips},
		{"LookUpChild, none", func() error {
			got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1})
			switch {
			case err != nil:
				return err
			case got.Key != "":
				return errors.New("LookUpChild found a child before it was added")
			case got.Recent.N != 1:
				return fmt.Errorf("LookUpChild counted %d children, want 1 (the warm-up's)", got.Recent.N)
			}
			return nil
		}, 1},
		{"AddToken", func() error { return tx.AddToken(ctx, child) }, 1},
		{"Commit", func() error { return tx.Commit(ctx) }, 1},
		{"Rollback after Commit", func() error { return tx.Rollback(ctx) }, 0},
		{"Begin again", func() (err error) { tx, err = begin(repo, ctx, lock); return err }, beginTrips},
		{"LookUpChild, found", func() error {
			if got, err := tx.LookUpChild(ctx, q, domain.ChildWindow{Since: testCreated, Max: 1}); err != nil || got.Key != child.Data.Token.Key {
				return errors.New("LookUpChild did not find the child")
			}
			return nil
		}, 1},
		{"FindChild, found", func() error {
			if key, err := tx.FindChild(ctx, q); err != nil || key != child.Data.Token.Key {
				return errors.New("FindChild did not find the child")
			}
			return nil
		}, 1},
		{"Rollback", func() error { return tx.Rollback(ctx) }, 1},
	}
	for _, s := range steps {
		before := proxy.Counts()
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := proxy.Counts().Sub(before); got.RoundTrips() != s.want {
			t.Errorf("%s: %v, want %d round trips", s.name, got, s.want)
		}
	}
}
