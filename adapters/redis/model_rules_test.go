package redis_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// docEdit is docExample with each old replaced by the new after it.
func docEdit(oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(docExample)
}

// Token data that Gafaelfawr's TokenData model refuses is "no such token"
// here too, so that no child is made of a parent Gafaelfawr itself would
// answer 401 for. Each value is one the model refuses (models/token.py,
// models/userinfo.py and types.py of Gafaelfawr 15), and data says which
// texts of it the log must not quote.
func TestRefusesWhatGafaelfawrRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(docCreated.Add(time.Minute))
	long := strings.Repeat("u", 65)
	longWide := strings.Repeat("ü", 65)
	for _, tc := range []struct {
		name string
		json string
		data []string
	}{
		// Group: name required, at least one character, matching
		// GROUPNAME_REGEX; id a required integer.
		{"group id null, as 4.1 and 5.2 to 10.x wrote a group without a GID",
			docEdit(`"id": 4123`, `"id": null`), nil},
		{"group id missing", docEdit(`, "id": 4123}`, `}`), nil},
		{"group id with a fraction", docEdit(`"id": 4123`, `"id": 4123.5`), nil},
		{"group name null", docEdit(`"name": "g_users"`, `"name": null`), nil},
		{"group name missing", docEdit(`"name": "g_users", `, ``), nil},
		{"group name empty", docEdit(`"g_users"`, `""`), nil},
		{"group name without a letter", docEdit(`"g_users"`, `"12345"`), []string{"12345"}},
		{"group name starting with an underscore", docEdit(`"g_users"`, `"_users"`), []string{"_users"}},
		{"group name ending in a dash after digits only", docEdit(`"g_users"`, `"1-"`), nil},
		{"group name with a space", docEdit(`"g_users"`, `"g users"`), []string{"g users"}},
		{"group name with a non-ASCII letter", docEdit(`"g_users"`, `"g_üsers"`), []string{"g_üsers"}},
		{"group name ending in a newline", docEdit(`"g_users"`, `"g_users\n"`), nil},
		{"group null", docEdit(`{"name": "g_users", "id": 4123}`, `null`), nil},
		// uid and gid: null or at least 1.
		{"uid 0", docEdit(`"uid": 4123`, `"uid": 0`), nil},
		{"uid negative", docEdit(`"uid": 4123`, `"uid": -4123`), nil},
		{"gid 0", docEdit(`"gid": 4123`, `"gid": 0`), nil},
		{"gid negative", docEdit(`"gid": 4123`, `"gid": -1`), nil},
		// username: 1 to 64 characters; name, email: null or at least 1;
		// service: null or 1 to 64.
		{"username of 65 characters", docEdit(`"someuser"`, `"`+long+`"`), []string{long}},
		{"username of 65 non-ASCII characters", docEdit(`"someuser"`, `"`+longWide+`"`), []string{longWide}},
		{"name empty", docEdit(`"Some User"`, `""`), nil},
		{"email empty", docEdit(`"someuser@example.com"`, `""`), nil},
		{"service empty", docEdit(`"portal"`, `""`), nil},
		{"service of 65 characters", docEdit(`"portal"`, `"`+long+`"`), []string{long}},
		// created and expires: datetimes of years 1 to 9999; created
		// may be missing, not null.
		{"created null", docEdit(`"created": 1764318000`, `"created": null`), nil},
		{"created after the year 9999", docEdit(`1764318000`, `253402300800000`), nil},
		{"created before the year 1", docEdit(`1764318000`, `-62135596800001`), nil},
		{"expires after the year 9999", docEdit(`1764321600`, `253402300800000`), nil},
		// token: key and secret strings, not null.
		{"token secret null", docEdit(`"8t5XdPSYTrteD0pDB15zqQ"`, `null`), nil},
		// Gafaelfawr decodes the plaintext as UTF-8 before parsing it.
		{"invalid UTF-8 in the name", docEdit("Some User", "Some \xffUser"), []string{"Some \xffUser"}},
		{"invalid UTF-8 in an unknown field", docEdit(`"username"`, "\"x\": \"\xff\", \"username\""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			e.checkUnreadable(t, tok, seal(t, e.secret, withToken(tc.json, tok)), tc.data)
		})
	}
}

// A missing or empty secret is one no presented token can match (Gafaelfawr
// reads a missing one as a new random secret), so such an entry is no
// token: GetByKey must not hand out a child token that cannot work.
func TestRefusesEntriesWithoutASecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(docCreated.Add(time.Minute))
	for name, doc := range map[string]string{
		"missing": docEdit(`, "secret": "8t5XdPSYTrteD0pDB15zqQ"`, ``),
		"empty":   docEdit(`"8t5XdPSYTrteD0pDB15zqQ"`, `""`),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			e.checkUnreadable(t, tok, seal(t, e.secret, withToken(doc, tok)), nil)
		})
	}
}

// What Gafaelfawr's model accepts is read, as it reads it: the model has
// no more rules than TestRefusesWhatGafaelfawrRefuses tests.
func TestReadsWhatGafaelfawrAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := docCreated.Add(time.Minute)
	e.clock.Set(now)
	for _, tc := range []struct {
		name string
		json string
		want func(d *domain.TokenData)
	}{
		{"group id 0", docEdit(`"id": 4123`, `"id": 0`),
			func(d *domain.TokenData) { d.Groups[0].ID = 0 }},
		{"group id negative", docEdit(`"id": 4123`, `"id": -5`),
			func(d *domain.TokenData) { d.Groups[0].ID = -5 }},
		{"group names of every allowed form", docEdit(`{"name": "g_users", "id": 4123}`,
			`{"name": "G", "id": 1}, {"name": "1abc", "id": 2}, {"name": "g-", "id": 3}, {"name": "a1-", "id": 4}, {"name": "x_Y.z-9", "id": 5}`),
			func(d *domain.TokenData) {
				d.Groups = []domain.Group{{Name: "G", ID: 1}, {Name: "1abc", ID: 2}, {Name: "g-", ID: 3},
					{Name: "a1-", ID: 4}, {Name: "x_Y.z-9", ID: 5}}
			}},
		{"uid and gid 1", docEdit(`"uid": 4123`, `"uid": 1`, `"gid": 4123`, `"gid": 1`),
			func(d *domain.TokenData) { d.UID, d.GID = 1, 1 }},
		{"username of 64 non-ASCII characters", docEdit(`"someuser"`, `"`+strings.Repeat("ü", 64)+`"`),
			func(d *domain.TokenData) { d.Username = strings.Repeat("ü", 64) }},
		{"username Gafaelfawr would not issue", docEdit(`"someuser"`, `"Some User!"`),
			func(d *domain.TokenData) { d.Username = "Some User!" }},
		{"service of 64 characters", docEdit(`"portal"`, `"`+strings.Repeat("s", 64)+`"`),
			func(d *domain.TokenData) { d.Service = strings.Repeat("s", 64) }},
		{"email that is no address", docEdit(`"someuser@example.com"`, `"not an address"`),
			func(d *domain.TokenData) { d.Email = "not an address" }},
		{"created missing, read as now", docEdit(`"created": 1764318000, `, ``),
			func(d *domain.TokenData) { d.Created = now }},
		{"created 0", docEdit(`1764318000`, `0`),
			func(d *domain.TokenData) { d.Created = time.Unix(0, 0).UTC() }},
		{"created 2e10, in seconds", docEdit(`1764318000`, `20000000000`),
			func(d *domain.TokenData) { d.Created = time.Unix(20000000000, 0).UTC() }},
		{"created beyond 2e10, in milliseconds", docEdit(`1764318000`, `20000000001`),
			func(d *domain.TokenData) { d.Created = time.UnixMilli(20000000001).UTC() }},
		{"created below -2e10, in milliseconds", docEdit(`1764318000`, `-20000000001`),
			func(d *domain.TokenData) { d.Created = time.UnixMilli(-20000000001).UTC() }},
		{"expires in milliseconds", docEdit(`1764321600`, `1764321600500`),
			func(d *domain.TokenData) { d.Expires = time.UnixMilli(1764321600500).UTC() }},
		{"expires at the end of the year 9999", docEdit(`1764321600`, `253402300799999`),
			func(d *domain.TokenData) { d.Expires = time.UnixMilli(253402300799999).UTC() }},
	} {
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
				t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}
