package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/domain"
)

// docExample is the token data JSON from the formats document
// (/work/shared/gafaelfawr-formats.md), byte for byte, as Gafaelfawr writes
// it. Tests put their own token in place of its key and secret.
const docExample = `{"username": "someuser",
 "name": "Some User", "email": "someuser@example.com", "uid": 4123, "gid": 4123,
 "groups": [{"name": "g_users", "id": 4123}],
 "token_type": "internal", "service": "portal",
 "scopes": ["read:all", "read:tap"],
 "created": 1764318000, "expires": 1764321600,
 "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`

// docCreated is docExample's creation time, when the tests' clock stands so
// that the example's token is live.
var docCreated = time.Unix(1764318000, 0).UTC()

// gafaelfawrJSON is docExample for tok.
func gafaelfawrJSON(tok domain.Token) []byte {
	return withToken(docExample, tok)
}

// withToken puts tok in place of docExample's token in doc.
func withToken(doc string, tok domain.Token) []byte {
	return []byte(strings.NewReplacer(
		"5KVApqcVbSQWtO3VIRgOhQ", tok.Key,
		"8t5XdPSYTrteD0pDB15zqQ", tok.Secret,
	).Replace(doc))
}

// docData is what docExample means, for tok.
func docData(tok domain.Token) domain.TokenData {
	return domain.TokenData{
		Token:    tok,
		Username: "someuser",
		Type:     domain.TokenTypeInternal,
		Service:  "portal",
		Scopes:   []string{"read:all", "read:tap"},
		Created:  docCreated,
		Expires:  time.Unix(1764321600, 0).UTC(),
		Name:     "Some User",
		Email:    "someuser@example.com",
		UID:      4123,
		GID:      4123,
		Groups:   []domain.Group{{Name: "g_users", ID: 4123}},
	}
}

// The store reads what Gafaelfawr writes: a Fernet token, made here with
// fernet-go directly, of Gafaelfawr's JSON in each form it may take.
func TestReadsGafaelfawrEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(docCreated.Add(time.Minute))
	unset := func(d *domain.TokenData) {
		d.Name, d.Email, d.UID, d.GID, d.Groups, d.Service, d.Expires = "", "", 0, 0, nil, "", time.Time{}
	}
	for _, tc := range []struct {
		name string
		edit func(doc string) string
		want func(d *domain.TokenData)
	}{
		{"as written", func(doc string) string { return doc }, func(*domain.TokenData) {}},
		{"scopes as a comma string", func(doc string) string {
			return strings.Replace(doc, `["read:all", "read:tap"]`, `"read:tap,read:all"`, 1)
		}, func(*domain.TokenData) {}},
		{"scopes as a comma string with an empty part", func(doc string) string {
			return strings.Replace(doc, `["read:all", "read:tap"]`, `"read:tap,,read:all"`, 1)
		}, func(d *domain.TokenData) { d.Scopes = []string{"", "read:all", "read:tap"} }},
		{"scopes as an empty string", func(doc string) string {
			return strings.Replace(doc, `["read:all", "read:tap"]`, `""`, 1)
		}, func(d *domain.TokenData) { d.Scopes = []string{} }},
		{"scopes unsorted with duplicates", func(doc string) string {
			return strings.Replace(doc, `["read:all", "read:tap"]`, `["read:tap", "read:all", "read:tap"]`, 1)
		}, func(*domain.TokenData) {}},
		{"optional fields null", func(doc string) string {
			return strings.NewReplacer(
				`"Some User"`, "null", `"someuser@example.com"`, "null",
				`"uid": 4123`, `"uid": null`, `"gid": 4123`, `"gid": null`,
				`[{"name": "g_users", "id": 4123}]`, "null",
				`"portal"`, "null", "1764321600", "null",
			).Replace(doc)
		}, unset},
		{"optional fields missing", func(string) string {
			return `{"username": "someuser", "token_type": "internal", "scopes": ["read:all", "read:tap"],
			 "created": 1764318000, "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`
		}, unset},
		{"unknown fields", func(doc string) string {
			return strings.Replace(doc, `"username": "someuser",`,
				`"username": "someuser", "quota": {"api": {"tap": 500}, "notebook": null}, "future": [1, "x", {}],`, 1)
		}, func(*domain.TokenData) {}},
		{"no groups", func(doc string) string {
			return strings.Replace(doc, `[{"name": "g_users", "id": 4123}]`, `[]`, 1)
		}, func(d *domain.TokenData) { d.Groups = []domain.Group{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			e.set(t, tok.Key, seal(t, e.secret, withToken(tc.edit(docExample), tok)))
			want := docData(tok)
			tc.want(&want)
			got, err := e.store.Get(context.Background(), tok)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// What the store writes is what Gafaelfawr writes: a Fernet token that
// fernet-go alone opens, of JSON with Gafaelfawr's fields, in its order,
// with null for what is unset.
func TestWritesGafaelfawrEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fieldOrder := []string{"username", "name", "email", "uid", "gid", "groups",
		"token_type", "service", "scopes", "created", "expires", "token"}
	for _, tc := range []struct {
		name string
		data func(t *testing.T) domain.TokenData
		want func(d domain.TokenData) map[string]any
	}{
		{"full", e.fullData, func(d domain.TokenData) map[string]any {
			return map[string]any{
				"username": "someuser", "name": "Some User", "email": "someuser@example.com",
				"uid": 4123.0, "gid": 4124.0,
				"groups": []any{
					map[string]any{"name": "g_users", "id": 4123.0},
					map[string]any{"name": "g_special", "id": 5000.0},
				},
				"token_type": "internal", "service": "portal",
				"scopes":  []any{"read:all", "read:tap"},
				"created": float64(d.Created.Unix()), "expires": float64(d.Expires.Unix()),
				"token": map[string]any{"key": d.Token.Key, "secret": d.Token.Secret},
			}
		}},
		{"minimal", e.minimalData, func(d domain.TokenData) map[string]any {
			return map[string]any{
				"username": "someuser", "name": nil, "email": nil, "uid": nil, "gid": nil,
				"groups": nil, "token_type": "user", "service": nil, "scopes": []any{},
				"created": float64(d.Created.Unix()), "expires": nil,
				"token": map[string]any{"key": d.Token.Key, "secret": d.Token.Secret},
			}
		}},
		// A group's id is never null: Gafaelfawr 11.0 and later refuse
		// that, and accept 0.
		{"group with GID 0, unsorted scopes", func(t *testing.T) domain.TokenData {
			d := e.minimalData(t)
			d.Groups = []domain.Group{{Name: "g_zero"}}
			d.Scopes = []string{"user:token", "read:all"}
			return d
		}, func(d domain.TokenData) map[string]any {
			return map[string]any{
				"username": "someuser", "name": nil, "email": nil, "uid": nil, "gid": nil,
				"groups":     []any{map[string]any{"name": "g_zero", "id": 0.0}},
				"token_type": "user", "service": nil, "scopes": []any{"read:all", "user:token"},
				"created": float64(d.Created.Unix()), "expires": nil,
				"token": map[string]any{"key": d.Token.Key, "secret": d.Token.Secret},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := tc.data(t)
			if err := e.store.Store(context.Background(), data); err != nil {
				t.Fatalf("Store: %v", err)
			}
			value, err := e.raw.Get(context.Background(), "token:"+data.Token.Key).Bytes()
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			plain := open(t, e.secret, value)
			var got map[string]any
			if err := json.Unmarshal(plain, &got); err != nil {
				t.Fatalf("stored plaintext is not JSON: %v", err)
			}
			if want := tc.want(data); !reflect.DeepEqual(got, want) {
				t.Errorf("stored JSON is\n%v\nwant\n%v", got, want)
			}
			if keys := topLevelKeys(t, plain); !reflect.DeepEqual(keys, fieldOrder) {
				t.Errorf("stored JSON has fields in the order %v, want %v", keys, fieldOrder)
			}
		})
	}
}

// The plaintext is byte for byte what Pydantic's model_dump_json makes of
// the same data: compact, in Gafaelfawr's field order, with non-ASCII and
// HTML characters written as they are.
func TestWritesPydanticBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		data func(t *testing.T) domain.TokenData
		want string // with KEY, SECRET, CREATED and EXPIRES to fill in
	}{
		{"full", func(t *testing.T) domain.TokenData {
			d := e.fullData(t)
			d.Name = "Zoë <zoe> & Co"
			return d
		}, `{"username":"someuser","name":"Zoë <zoe> & Co","email":"someuser@example.com","uid":4123,"gid":4124,` +
			`"groups":[{"name":"g_users","id":4123},{"name":"g_special","id":5000}],"token_type":"internal",` +
			`"service":"portal","scopes":["read:all","read:tap"],"created":CREATED,"expires":EXPIRES,` +
			`"token":{"key":"KEY","secret":"SECRET"}}`},
		// serde_json escapes only '"', '\\' and control characters;
		// encoding/json also escapes the line and paragraph separators.
		// A backslash before "u2028" stays an escaped backslash.
		{"separators", func(t *testing.T) domain.TokenData {
			d := e.minimalData(t)
			d.Name = "Some\u2028User\u2029 \\u2028\t\x01"
			return d
		}, `{"username":"someuser","name":"Some` + "\u2028" + `User` + "\u2029" + ` \\u2028\t\u0001","email":null,"uid":null,"gid":null,"groups":null,` +
			`"token_type":"user","service":null,"scopes":[],"created":CREATED,"expires":null,` +
			`"token":{"key":"KEY","secret":"SECRET"}}`},
		// serde_json escapes only '"', '\\' and control characters;
		// encoding/json also escapes the line and paragraph separators.
		// A backslash before "u2028" stays an escaped backslash.
		{"separators", func(t *testing.T) domain.TokenData {
			d := e.minimalData(t)
			d.Name = "Some\u2028User\u2029 \\u2028\t\x01"
			return d
		}, `{"username":"someuser","name":"Some` + "\u2028" + `User` + "\u2029" + ` \\u2028\t\u0001","email":null,"uid":null,"gid":null,"groups":null,` +
			`"token_type":"user","service":null,"scopes":[],"created":CREATED,"expires":null,` +
			`"token":{"key":"KEY","secret":"SECRET"}}`},
		{"minimal", e.minimalData,
			`{"username":"someuser","name":null,"email":null,"uid":null,"gid":null,"groups":null,` +
				`"token_type":"user","service":null,"scopes":[],"created":CREATED,"expires":null,` +
				`"token":{"key":"KEY","secret":"SECRET"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := tc.data(t)
			if err := e.store.Store(context.Background(), data); err != nil {
				t.Fatalf("Store: %v", err)
			}
			value, err := e.raw.Get(context.Background(), "token:"+data.Token.Key).Bytes()
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			want := strings.NewReplacer(
				"KEY", data.Token.Key, "SECRET", data.Token.Secret,
				"CREATED", strconv.FormatInt(data.Created.Unix(), 10),
				"EXPIRES", strconv.FormatInt(data.Expires.Unix(), 10),
			).Replace(tc.want)
			if got := string(open(t, e.secret, value)); got != want {
				t.Errorf("stored plaintext is\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// topLevelKeys returns the keys of the JSON object doc, in order.
func topLevelKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// Gafaelfawr decrypts without a TTL, so an entry sealed long ago (a user
// token that never expires) or by a server whose clock runs ahead still
// reads; fernet-go checks neither when given a ttl of 0.
func TestReadsEntriesSealedAtAnyTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(docCreated.Add(time.Minute))
	key, err := fernet.DecodeKey(e.secret)
	if err != nil {
		t.Fatal(err)
	}
	for name, sealedAt := range map[string]time.Time{
		"five years ago":   time.Now().AddDate(-5, 0, 0),
		"an hour from now": time.Now().Add(time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			value, err := fernet.EncryptAndSignAtTime(gafaelfawrJSON(tok), key, sealedAt)
			if err != nil {
				t.Fatal(err)
			}
			e.set(t, tok.Key, value)
			got, err := e.store.Get(context.Background(), tok)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if want := docData(tok); !reflect.DeepEqual(got, want) {
				t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}
