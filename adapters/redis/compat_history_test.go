package redis_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// historicalEntries are token data JSON in the shape each line of
// Gafaelfawr releases wrote to Redis under token:<key>, with docExample's
// token. Parents and children written by older releases live on after an
// upgrade: user tokens may never expire, and children live as long as
// their parents.
//
//   - 2.0 to 9.3 wrote Pydantic v1's json(): Python's json.dumps with its
//     default separators (", " and ": ") and ensure_ascii, so non-ASCII
//     characters are \u escapes.
//   - 9.4 and later write Pydantic v2's model_dump_json(): compact, with
//     non-ASCII characters as they are.
//   - gid appeared in 5.1; quota was part of the token data from 9.1 to
//     10.x; service appeared in 12.0, so older internal children have none
//     and their service reads as "" (unknown).
//
// Fields come in the order of the releases' models; every optional field
// is present, as null when unset.
var historicalEntries = []struct {
	name string
	json string
	want func(d *domain.TokenData)
}{
	{"2.0 to 5.0: internal child, no gid, no service",
		`{"username": "someuser", "name": "Some User", "email": "someuser@example.com", "uid": 4123, ` +
			`"groups": [{"name": "g_users", "id": 4123}], "token_type": "internal", "scopes": ["read:all"], ` +
			`"created": 1764318000, "expires": 1764321600, ` +
			`"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service, d.GID, d.Scopes = "", 0, []string{"read:all"} }},
	{"5.1 to 9.0: notebook child, escaped non-ASCII name",
		`{"username": "someuser", "name": "Zo\u00eb User", "email": "someuser@example.com", "uid": 4123, "gid": 4123, ` +
			`"groups": [{"name": "g_users", "id": 4123}, {"name": "g_special", "id": 5000}], "token_type": "notebook", ` +
			`"scopes": ["exec:notebook", "read:all"], "created": 1764318000, "expires": 1764321600, ` +
			`"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) {
			d.Type, d.Service, d.Name = domain.TokenTypeNotebook, "", "Zoë User"
			d.Groups = append(d.Groups, domain.Group{Name: "g_special", ID: 5000})
			d.Scopes = []string{"exec:notebook", "read:all"}
		}},
	{"5.1 to 9.0: session token, nothing optional set",
		`{"username": "someuser", "name": null, "email": null, "uid": null, "gid": null, "groups": null, ` +
			`"token_type": "session", "scopes": ["read:all", "user:token"], "created": 1764318000, "expires": null, ` +
			`"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) {
			d.Type, d.Service, d.Scopes = domain.TokenTypeSession, "", []string{"read:all", "user:token"}
			d.Name, d.Email, d.UID, d.GID, d.Groups, d.Expires = "", "", 0, 0, nil, time.Time{}
		}},
	{"9.1 to 9.3: internal child, quota null",
		`{"username": "someuser", "name": "Some User", "email": "someuser@example.com", "uid": 4123, "gid": 4123, ` +
			`"groups": [{"name": "g_users", "id": 4123}], "quota": null, "token_type": "internal", ` +
			`"scopes": ["read:all", "read:tap"], "created": 1764318000, "expires": 1764321600, ` +
			`"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service = "" }},
	{"9.1 to 9.3: internal child, quota set",
		`{"username": "someuser", "name": "Some User", "email": "someuser@example.com", "uid": 4123, "gid": 4123, ` +
			`"groups": [{"name": "g_users", "id": 4123}], ` +
			`"quota": {"api": {"datalinker": 1000}, "notebook": {"cpu": 4.0, "memory": 16.0}}, "token_type": "internal", ` +
			`"scopes": ["read:all", "read:tap"], "created": 1764318000, "expires": 1764321600, ` +
			`"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service = "" }},
	{"9.4 to 10.x: compact, quota set, no service",
		`{"username":"someuser","name":"Zoë User","email":"someuser@example.com","uid":4123,"gid":4123,` +
			`"groups":[{"name":"g_users","id":4123}],"quota":{"api":{"datalinker":1000},"notebook":{"cpu":4.0,"memory":16.0}},` +
			`"token_type":"internal","scopes":["read:all","read:tap"],"created":1764318000,"expires":1764321600,` +
			`"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service, d.Name = "", "Zoë User" }},
	{"9.4 to 10.x: compact, quota null, no service",
		`{"username":"someuser","name":"Some User","email":"someuser@example.com","uid":4123,"gid":4123,` +
			`"groups":[{"name":"g_users","id":4123}],"quota":null,"token_type":"internal","scopes":["read:all","read:tap"],` +
			`"created":1764318000,"expires":1764321600,"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service = "" }},
	{"11.x: compact, no quota, no service",
		`{"username":"someuser","name":"Some User","email":"someuser@example.com","uid":4123,"gid":4123,` +
			`"groups":[{"name":"g_users","id":4123}],"token_type":"internal","scopes":["read:all","read:tap"],` +
			`"created":1764318000,"expires":1764321600,"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(d *domain.TokenData) { d.Service = "" }},
	{"12.0 and later: compact, with service",
		`{"username":"someuser","name":"Some User","email":"someuser@example.com","uid":4123,"gid":4123,` +
			`"groups":[{"name":"g_users","id":4123}],"token_type":"internal","service":"portal","scopes":["read:all","read:tap"],` +
			`"created":1764318000,"expires":1764321600,"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`,
		func(*domain.TokenData) {}},
}

// The store reads token data as every Gafaelfawr release since 2.0 wrote
// it, sealed and stored as Gafaelfawr does.
func TestReadsHistoricalGafaelfawrEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(docCreated.Add(time.Minute))
	for _, tc := range historicalEntries {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			e.set(t, tok.Key, seal(t, e.secret, withToken(tc.json, tok)))
			want := docData(tok)
			tc.want(&want)
			got, err := e.store.Get(context.Background(), tok)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get returned\n%+v\nwant\n%+v", got, want)
			}
			got, err = e.store.GetByKey(context.Background(), tok.Key)
			if err != nil {
				t.Fatalf("GetByKey: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetByKey returned\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}
