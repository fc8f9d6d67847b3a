package porttest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// TestTokenStore checks that store behaves as ports.TokenStore documents.
// The store must read the real time.
func TestTokenStore(t *testing.T, store ports.TokenStore) {
	ctx := context.Background()
	put := func(t *testing.T, data domain.TokenData) {
		t.Helper()
		if err := store.Store(ctx, data); err != nil {
			t.Fatalf("Store: %v", err)
		}
		t.Cleanup(func() { _ = store.Delete(context.Background(), data.Token.Key) })
	}
	mustGet := func(t *testing.T, want domain.TokenData) {
		t.Helper()
		got, err := store.Get(ctx, want.Token)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
		}
		got, err = store.GetByKey(ctx, want.Token.Key)
		if err != nil {
			t.Fatalf("GetByKey: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("GetByKey returned\n%+v\nwant\n%+v", got, want)
		}
	}
	wantNotFound := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("got %v, want ports.ErrNotFound", err)
		}
	}

	t.Run("RoundTripFull", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		put(t, data)
		mustGet(t, data)
	})
	t.Run("RoundTripMinimal", func(t *testing.T) {
		t.Parallel()
		now := time.Now().UTC().Truncate(time.Second)
		data := domain.TokenData{
			Token: newToken(t), Username: "u", Type: domain.TokenTypeUser,
			Scopes: []string{}, Created: now,
		}
		put(t, data)
		mustGet(t, data)
	})
	t.Run("RoundTripInternal", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		data.Type, data.Service = domain.TokenTypeInternal, "portal"
		data.Scopes = []string{"read:all"}
		put(t, data)
		mustGet(t, data)
	})
	t.Run("StoreReplaces", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		put(t, data)
		data.Scopes = []string{"read:all"}
		put(t, data)
		mustGet(t, data)
	})
	t.Run("WrongSecretIsNotFound", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		put(t, data)
		wrong := data.Token
		wrong.Secret = newToken(t).Secret
		_, err := store.Get(ctx, wrong)
		wantNotFound(t, err)
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		tok := newToken(t)
		_, err := store.Get(ctx, tok)
		wantNotFound(t, err)
		_, err = store.GetByKey(ctx, tok.Key)
		wantNotFound(t, err)
	})
	t.Run("RefusesUnderOneSecondToLive", func(t *testing.T) {
		t.Parallel()
		// Counted as Gafaelfawr counts its TTL: from the current second.
		for name, expires := range map[string]time.Time{
			"expired":           time.Now().Add(-time.Minute),
			"this second's end": time.Now().Truncate(time.Second).Add(999 * time.Millisecond),
			"just-past":         time.Now().Add(-time.Millisecond),
		} {
			data := sessionData(t, time.Hour)
			data.Expires = expires
			if err := store.Store(ctx, data); err == nil {
				_ = store.Delete(ctx, data.Token.Key)
				t.Fatalf("%s: Store accepted a token with less than a second to live", name)
			}
			_, err := store.GetByKey(ctx, data.Token.Key)
			wantNotFound(t, err)
		}
	})
	t.Run("RefusesWhatGafaelfawrWouldNotRead", func(t *testing.T) {
		t.Parallel()
		for name, edit := range map[string]func(*domain.TokenData){
			"no username":             func(d *domain.TokenData) { d.Username = "" },
			"a username too long":     func(d *domain.TokenData) { d.Username = strings.Repeat("u", domain.MaxNameLength+1) },
			"a service too long":      func(d *domain.TokenData) { d.Service = strings.Repeat("s", domain.MaxNameLength+1) },
			"a negative UID":          func(d *domain.TokenData) { d.UID = -1 },
			"a negative GID":          func(d *domain.TokenData) { d.GID = -1 },
			"an unknown type":         func(d *domain.TokenData) { d.Type = "bogus" },
			"a bad group name":        func(d *domain.TokenData) { d.Groups = []domain.Group{{Name: "no spaces", ID: 1000}} },
			"created in milliseconds": func(d *domain.TokenData) { d.Created = time.Unix(domain.MaxUnixSeconds+1, 0) },
		} {
			data := sessionData(t, time.Hour)
			edit(&data)
			if err := store.Store(ctx, data); err == nil {
				_ = store.Delete(ctx, data.Token.Key)
				t.Errorf("%s: Store accepted it", name)
				continue
			}
			_, err := store.GetByKey(ctx, data.Token.Key)
			wantNotFound(t, err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		put(t, data)
		if err := store.Delete(ctx, data.Token.Key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err := store.Get(ctx, data.Token)
		wantNotFound(t, err)
		if err := store.Delete(ctx, data.Token.Key); err != nil {
			t.Fatalf("Delete of a missing token: %v", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		data := sessionData(t, time.Hour)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := store.Store(cancelled, data); err == nil {
			_ = store.Delete(ctx, data.Token.Key)
			t.Fatal("Store with a cancelled context succeeded")
		}
		if _, err := store.Get(cancelled, data.Token); err == nil || errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("Get with a cancelled context returned %v, want the context's error", err)
		}
	})
	testStoresGafaelfawrsForm(t, store)
}
