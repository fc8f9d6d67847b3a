package redis_test

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

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for name, makeData := range map[string]func(*testing.T) domain.TokenData{
		"full":    e.fullData,
		"minimal": e.minimalData,
		"empty groups": func(t *testing.T) domain.TokenData {
			d := e.minimalData(t)
			d.Groups = []domain.Group{}
			return d
		},
		"longest username and service": func(t *testing.T) domain.TokenData {
			d := e.fullData(t)
			d.Username, d.Service = strings.Repeat("ü", 64), strings.Repeat("s", 64)
			return d
		},
		"group GIDs 0 and negative": func(t *testing.T) domain.TokenData {
			d := e.fullData(t)
			d.Groups = []domain.Group{{Name: "g_zero", ID: 0}, {Name: "g_negative", ID: -5}}
			return d
		},
		"unsorted scopes": func(t *testing.T) domain.TokenData {
			d := e.fullData(t)
			d.Scopes = []string{"read:tap", "exec:notebook", "read:tap"}
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := makeData(t)
			if err := e.store.Store(ctx, data); err != nil {
				t.Fatalf("Store: %v", err)
			}
			want := data.Clone()
			want.Scopes = domain.CanonicalScopes(data.Scopes)
			got, err := e.store.Get(ctx, data.Token)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get returned\n%+v\nwant\n%+v", got, want)
			}
			got, err = e.store.GetByKey(ctx, data.Token.Key)
			if err != nil {
				t.Fatalf("GetByKey: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetByKey returned\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestStoreSetsTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		expires time.Duration // from the clock's now; 0 = never
		// PTTL read just after Store lies in (min, max]; -1 means no TTL.
		min, max time.Duration
	}{
		{"one hour", time.Hour, time.Hour - time.Second, time.Hour},
		// Rounded down, never up: 10.9 s becomes EX 10.
		{"fraction", 10*time.Second + 900*time.Millisecond, 9 * time.Second, 10 * time.Second},
		{"exactly one second", time.Second, 0, time.Second},
		{"never", 0, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := e.fullData(t)
			data.Expires = time.Time{}
			if tc.expires != 0 {
				data.Expires = e.clock.Now().Add(tc.expires)
			}
			if err := e.store.Store(ctx, data); err != nil {
				t.Fatalf("Store: %v", err)
			}
			ms, err := e.raw.Do(ctx, "PTTL", "token:"+data.Token.Key).Int64()
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			if tc.min == -1 {
				if ms != -1 {
					t.Fatalf("PTTL = %d ms, want -1 (no expiry)", ms)
				}
				return
			}
			if got := time.Duration(ms) * time.Millisecond; got <= tc.min || got > tc.max {
				t.Fatalf("PTTL = %v, want in (%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}

func TestStoreRefusesUnderOneSecond(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for name, left := range map[string]time.Duration{
		"999ms":   999 * time.Millisecond,
		"zero":    0,
		"expired": -time.Hour,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := e.fullData(t)
			data.Expires = e.clock.Now().Add(left)
			if err := e.store.Store(ctx, data); err == nil {
				t.Fatal("Store accepted a token with less than a second to live")
			}
			n, err := e.raw.Exists(ctx, "token:"+data.Token.Key).Result()
			if err != nil {
				t.Fatalf("EXISTS: %v", err)
			}
			if n != 0 {
				t.Fatal("Store wrote a token it refused")
			}
		})
	}
}

func TestStoreRefusesInvalidData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, spoil := range map[string]func(*domain.TokenData){
		"no username":      func(d *domain.TokenData) { d.Username = "" },
		"bad token type":   func(d *domain.TokenData) { d.Type = "bogus" },
		"bad token key":    func(d *domain.TokenData) { d.Token.Key = "short" },
		"bad token secret": func(d *domain.TokenData) { d.Token.Secret = "short-secret" },
		// Gafaelfawr's TokenData allows at most 64 characters in each.
		"long username": func(d *domain.TokenData) { d.Username = strings.Repeat("ü", 65) },
		"long service":  func(d *domain.TokenData) { d.Service = strings.Repeat("s", 65) },
		"negative UID":  func(d *domain.TokenData) { d.UID = -1 },
		"negative GID":  func(d *domain.TokenData) { d.GID = -1 },
		// Gafaelfawr's group names match GROUPNAME_REGEX.
		"empty group name":   func(d *domain.TokenData) { d.Groups[1].Name = "" },
		"invalid group name": func(d *domain.TokenData) { d.Groups[1].Name = "_staff" },
		// Gafaelfawr reads a timestamp beyond ±2e10 as milliseconds.
		"no creation time":             func(d *domain.TokenData) { d.Created = time.Time{} },
		"created after 2e10":           func(d *domain.TokenData) { d.Created = time.Unix(20_000_000_001, 0) },
		"expires after 2e10":           func(d *domain.TokenData) { d.Expires = time.Unix(20_000_000_001, 0) },
		"created before the year 1336": func(d *domain.TokenData) { d.Created = time.Unix(-20_000_000_001, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := e.fullData(t)
			spoil(&data)
			err := e.store.Store(context.Background(), data)
			if err == nil {
				t.Fatal("Store accepted invalid data")
			}
			if containsSecret(err.Error(), data.Token.Secret) {
				t.Fatalf("error %q contains the token secret", err)
			}
		})
	}
}

func TestGetWrongSecretIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	data := e.fullData(t)
	if err := e.store.Store(ctx, data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	wrong := data.Token
	wrong.Secret = e.newToken(t).Secret
	if _, err := e.store.Get(ctx, wrong); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get with the wrong secret returned %v, want ports.ErrNotFound", err)
	}
	if containsSecret(e.logs.String(), data.Token.Secret) || containsSecret(e.logs.String(), wrong.Secret) {
		t.Fatalf("log contains a secret:\n%s", e.logs)
	}
	// As in Gafaelfawr, a mismatch is logged: it may be someone guessing.
	if records := logRecordsFor(t, e.logs.String(), data.Token.Key); len(records) != 1 || records[0]["level"] != "WARN" {
		t.Errorf("log records for the key = %v, want one warning", records)
	}
}

func TestGetMissingIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tok := e.newToken(t)
	if _, err := e.store.Get(ctx, tok); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get returned %v, want ports.ErrNotFound", err)
	}
	if _, err := e.store.GetByKey(ctx, tok.Key); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetByKey returned %v, want ports.ErrNotFound", err)
	}
}

// The store agrees with its clock even where Redis's clock has not yet
// ended the entry.
func TestGetExpiredByClockIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	data := e.fullData(t)
	if err := e.store.Store(ctx, data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	e.clock.Set(data.Expires)
	if _, err := e.store.GetByKey(ctx, data.Token.Key); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetByKey at expiry returned %v, want ports.ErrNotFound", err)
	}
}

func TestDeleteIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	data := e.fullData(t)
	if err := e.store.Store(ctx, data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	for i := range 2 {
		if err := e.store.Delete(ctx, data.Token.Key); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := e.store.Get(ctx, data.Token); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get after Delete returned %v, want ports.ErrNotFound", err)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := e.fullData(t)
	if err := e.store.Store(context.Background(), data); err != nil {
		t.Fatalf("Store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range map[string]func() error{
		"Get": func() error { _, err := e.store.Get(ctx, data.Token); return err },
		"GetByKey": func() error {
			_, err := e.store.GetByKey(ctx, data.Token.Key)
			return err
		},
		"Store":  func() error { return e.store.Store(ctx, data) },
		"Delete": func() error { return e.store.Delete(ctx, data.Token.Key) },
	} {
		err := call()
		if !errors.Is(err, context.Canceled) || errors.Is(err, ports.ErrNotFound) {
			t.Errorf("%s with a cancelled context returned %v, want context.Canceled", name, err)
		}
	}
	// Delete did not run: the token is still there.
	if _, err := e.store.Get(context.Background(), data.Token); err != nil {
		t.Fatalf("Get after cancelled Delete: %v", err)
	}
}
