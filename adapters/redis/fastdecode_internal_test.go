package redis

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// docJSON is token data as in the formats document: Gafaelfawr's field
// order, with a space after each colon and comma and a newline here and
// there.
const docJSON = `{"username": "someuser",
 "name": "Some User", "email": "someuser@example.com", "uid": 4123, "gid": 4123,
 "groups": [{"name": "g_users", "id": 4123}],
 "token_type": "internal", "service": "portal",
 "scopes": ["read:all", "read:tap"],
 "created": 1764318000, "expires": 1764321600,
 "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`

// docKey is the token key in docJSON and pydanticJSON.
const docKey = "5KVApqcVbSQWtO3VIRgOhQ"

// docWith returns docJSON with each old replaced by the new after it.
func docWith(oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(docJSON)
}

// decodeCases are token data JSON in every form the package's tests use,
// and the ways the fast path could go wrong. fast says whether loadFast
// must read it itself; the rest it must leave to encoding/json, or may.
var decodeCases = []struct {
	name string
	json string
	fast bool
}{
	// Forms Gafaelfawr and this store write, and reads must accept.
	{"pydantic compact", pydanticJSON, true},
	{"formats document", docJSON, true},
	{"scopes as a comma string", docWith(`["read:all", "read:tap"]`, `"read:tap,read:all"`), true},
	{"scopes as an empty string", docWith(`["read:all", "read:tap"]`, `""`), true},
	{"scopes as an empty list", docWith(`["read:all", "read:tap"]`, `[]`), true},
	{"scopes unsorted with duplicates", docWith(`["read:all", "read:tap"]`, `["read:tap", "read:all", "read:tap"]`), true},
	{"optional fields null", docWith(`"Some User"`, "null", `"someuser@example.com"`, "null",
		`"uid": 4123`, `"uid": null`, `"gid": 4123`, `"gid": null`,
		`[{"name": "g_users", "id": 4123}]`, "null", `"portal"`, "null", "1764321600", "null"), true},
	{"optional fields missing", `{"username": "someuser", "token_type": "internal", "scopes": ["read:all", "read:tap"],
		"created": 1764318000, "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`, true},
	{"minimal as stored", `{"username":"someuser","name":null,"email":null,"uid":null,"gid":null,"groups":null,` +
		`"token_type":"user","service":null,"scopes":[],"created":1764318000,"expires":null,` +
		`"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`, true},
	{"fields in reverse order", `{"token": {"secret": "8t5XdPSYTrteD0pDB15zqQ", "key": "5KVApqcVbSQWtO3VIRgOhQ"},
		"expires": 1764321600, "created": 1764318000, "scopes": ["read:all"], "service": "portal",
		"token_type": "internal", "groups": [{"id": 7, "name": "g"}], "gid": 1, "uid": 2,
		"email": "e@example.com", "name": "N", "username": "u"}`, true},
	{"unknown fields", docWith(`"username": "someuser",`,
		`"username": "someuser", "quota": {"api": {"tap": 500}, "notebook": null}, "future": [1, "x", {}],`), true},
	{"unknown simple fields", docWith(`"username": "someuser",`,
		`"a": true, "b": false, "c": null, "d": -5, "e": "x", "": "", "f": [], "g": {},`), true},
	{"unknown field in a group", docWith(`"id": 4123}`, `"id": 4123, "gid_source": "ldap"}`), true},
	{"unknown field in the token", docWith(`"secret"`, `"version": 2, "secret"`), true},
	{"numbers in an unknown field", docWith(`"username"`,
		`"x": [1.5, -0.25, 0.0, 1e3, 1E+3, -2.5e-3, 0e0, 123456789012345678901234567890], "username"`), true},
	{"Gafaelfawr 9.1 to 10.x: quota", docWith(`"token_type"`,
		`"quota": {"api": {"datalinker": 1000}, "notebook": {"cpu": 4.0, "memory": 16.0}}, "token_type"`), true},
	{"no groups", docWith(`[{"name": "g_users", "id": 4123}]`, `[]`), true},
	{"non-ASCII name", docWith("Some User", "Zoë <zoe> & Co 日本"), true},
	{"negative integers", docWith(`"id": 4123`, `"id": -4123`, "1764318000", "-1", "1764321600", "-0"), true},
	{"largest and smallest int64", docWith(`{"name": "g_users", "id": 4123}`,
		`{"name": "g_max", "id": 9223372036854775807}, {"name": "g_min", "id": -9223372036854775808}`), true},
	{"zero", docWith(`"id": 4123`, `"id": 0`, "1764318000", "0"), true},
	{"uid and gid 1", docWith(`"uid": 4123`, `"uid": 1`, `"gid": 4123`, `"gid": 1`), true},
	{"no whitespace", string(compact(docJSON)), true},
	{"indented", string(indent(docJSON)), true},
	{"tabs and CRLF", strings.NewReplacer(": ", ":\t", ", ", "\t,\r\n", "\n", "\r\n").Replace(docJSON), true},
	{"whitespace around", " \t\r\n" + docJSON + " \t\r\n", true},
	{"Gafaelfawr before 5.1: no gid, no service", `{"username": "someuser", "name": "Some User", "email": null, "uid": 4123, ` +
		`"groups": [{"name": "g_users", "id": 4123}], "token_type": "internal", "scopes": ["read:all"], "created": 1764318000, ` +
		`"expires": 1764321600, "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}}`, true},
	{"Gafaelfawr 9.1 to 10.x: quota null", docWith(`"token_type"`, `"quota": null, "token_type"`, `, "service": "portal"`, ``), true},
	{"created in milliseconds", docWith("1764318000", "1764318000000", "1764321600", "253402300799999"), true},

	// Token JSON Gafaelfawr's model refuses, which either path may read.
	{"empty name", docWith(`"Some User"`, `""`), true},
	{"empty email", docWith(`"someuser@example.com"`, `""`), true},
	{"empty service", docWith(`"portal"`, `""`), true},
	{"long service", docWith(`"portal"`, `"`+strings.Repeat("s", 65)+`"`), true},
	{"long username", docWith(`"someuser"`, `"`+strings.Repeat("ü", 65)+`"`), true},
	{"uid 0", docWith(`"uid": 4123`, `"uid": 0`), true},
	{"largest and smallest int64 uid and gid", docWith(`"uid": 4123`, `"uid": 9223372036854775807`, `"gid": 4123`, `"gid": -9223372036854775808`), true},
	{"gid negative", docWith(`"gid": 4123`, `"gid": -1`), true},
	{"group id null", docWith(`"id": 4123`, `"id": null`), true},
	{"group without a GID", docWith(`{"name": "g_users", "id": 4123}`, `{"name": "g_users", "id": null}, {"name": "g_other"}`), true},
	{"empty group", docWith(`{"name": "g_users", "id": 4123}`, `{}`), true},
	{"group name invalid", docWith(`"g_users"`, `"_users"`), true},
	{"group name with an escape", docWith(`"g_users"`, `"g_users\n"`), false},
	{"secret null", docWith(`"8t5XdPSYTrteD0pDB15zqQ"`, `null`), true},
	{"secret missing", docWith(`, "secret": "8t5XdPSYTrteD0pDB15zqQ"`, ``), true},
	{"created beyond the year 9999", docWith("1764318000", "253402300800000"), true},
	{"expires in the year 1", docWith("1764321600", "-62135596800000"), true},

	// Valid token JSON the fast path may leave to encoding/json.
	{"escaped e acute", docWith("Some User", `Zo\u00eb`), false},
	{"escaped quote", docWith("Some User", `Some \"User\"`), false},
	{"escaped slash in scope", docWith("read:all", `read:\/all`), false},
	{"escaped key", docWith(`"username"`, `"\u0075sername"`), false},
	{"escaped unknown key", docWith(`"username"`, `"\u0078": 1, "username"`), false},
	{"key in capitals", docWith(`"username"`, `"USERNAME"`), false},
	{"key in mixed case", docWith(`"token"`, `"Token"`), false},
	{"key with Kelvin sign", docWith(`"key"`, `"\u212aey"`), false},
	{"raw Kelvin sign key", docWith(`"key"`, "\"\u212aey\""), false},
	{"raw long s key", docWith(`"scopes"`, "\"\u017fcopes\""), false},
	{"unknown non-ASCII key", docWith(`"username"`, `"ünknown": 1, "username"`), false},
	{"deep unknown field", docWith(`"username"`, `"x": `+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`, "username"`), false},
	{"invalid UTF-8 in an unknown field", docWith(`"username"`, "\"x\": \"\xff\", \"username\""), false},
	{"duplicate username", docWith(`"username": "someuser",`, `"username": "first", "username": "someuser",`), false},
	{"duplicate groups", docWith(`"groups":`, `"groups": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "groups":`), false},
	{"duplicate group name", docWith(`{"name": "g_users", "id": 4123}`, `{"name": "a", "name": "g_users", "id": 4123}`), false},
	{"duplicate token", docWith(`"token":`, `"token": {"key": "x", "secret": "y"}, "token":`), false},
	{"duplicate unknown", docWith(`"username"`, `"x": 1, "x": 2, "username"`), true},
	{"top-level null", `null`, false},
	{"null group", docWith(`{"name": "g_users", "id": 4123}`, `null`), false},

	// Token JSON that must be refused, by one path or the other.
	{"empty", ``, false},
	{"whitespace only", " \n", false},
	{"invalid JSON", `{"token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}`, false},
	{"JSON list", `[1, 2]`, false},
	{"JSON string", `"x"`, false},
	{"trailing garbage", docJSON + "x", false},
	{"two objects", docJSON + docJSON, false},
	{"trailing comma", docWith(`"expires": 1764321600,`, `"expires": 1764321600,,`), false},
	{"trailing comma in object", strings.TrimSuffix(docJSON, "}") + ",}", false},
	{"trailing comma in list", docWith(`"read:tap"]`, `"read:tap",]`), false},
	{"missing colon", docWith(`"username":`, `"username"`), false},
	{"byte order mark", "\ufeff" + docJSON, false},
	{"vertical tab", docWith(`"username": `, "\"username\":\v"), false},
	{"form feed", docWith(`"username": `, "\"username\":\f"), false},
	{"no-break space", docWith(`"username": `, "\"username\":\u00a0"), false},
	{"control byte in a string", docWith("Some User", "Some\tUser"), false},
	{"nul byte in a string", docWith("Some User", "Some\x00User"), false},
	{"invalid UTF-8 in a name", docWith("Some User", "Some \xc3User"), false},
	{"overlong UTF-8 in a name", docWith("Some User", "Some \xc0\xafUser"), false},
	{"surrogate in UTF-8", docWith("Some User", "Some \xed\xa0\x80User"), false},
	{"unterminated string", `{"username": "someuser`, false},
	{"secret where a number goes", docWith(`"uid": 4123`, `"uid": "8t5XdPSYTrteD0pDB15zqQ"`), false},
	{"string uid", docWith(`"uid": 4123`, `"uid": "4123"`), false},
	{"float uid", docWith(`"uid": 4123`, `"uid": 4123.0`), false},
	{"exponent uid", docWith(`"uid": 4123`, `"uid": 4e3`), false},
	{"uid beyond int64", docWith(`"uid": 4123`, `"uid": 9223372036854775808`), false},
	{"uid below int64", docWith(`"uid": 4123`, `"uid": -9223372036854775809`), false},
	{"leading zero", docWith(`"uid": 4123`, `"uid": 04123`), false},
	{"plus sign", docWith(`"uid": 4123`, `"uid": +4123`), false},
	{"lone minus", docWith(`"uid": 4123`, `"uid": -`), false},
	{"lone minus in an unknown field", docWith(`"username"`, `"x": -, "username"`), false},
	{"leading zero in an unknown field", docWith(`"username"`, `"x": 01.5, "username"`), false},
	{"plus sign in an unknown field", docWith(`"username"`, `"x": +1.5, "username"`), false},
	{"fraction without digits", docWith(`"username"`, `"x": 1., "username"`), false},
	{"fraction without an integer", docWith(`"username"`, `"x": .5, "username"`), false},
	{"exponent without digits", docWith(`"username"`, `"x": 1e, "username"`), false},
	{"exponent sign without digits", docWith(`"username"`, `"x": 1.5e+, "username"`), false},
	{"number at the end", `{"x": 1.5`, false},
	{"exponent at the end", `{"x": 1e`, false},
	{"bool uid", docWith(`"uid": 4123`, `"uid": true`), false},
	{"float created", docWith("1764318000", "1764318000.5"), false},
	{"null run on", docWith(`"uid": 4123`, `"uid": nullx`), false},
	{"scopes of numbers", docWith(`["read:all", "read:tap"]`, `[1, 2]`), false},
	{"scopes with null", docWith(`["read:all", "read:tap"]`, `["read:all", null]`), false},
	{"scopes as a number", docWith(`["read:all", "read:tap"]`, `3`), false},
	{"scopes as an object", docWith(`["read:all", "read:tap"]`, `{}`), false},
	{"scopes null", docWith(`["read:all", "read:tap"]`, `null`), true},
	{"no scopes", docWith(`"scopes": ["read:all", "read:tap"],`, ``), true},
	{"groups as an object", docWith(`[{"name": "g_users", "id": 4123}]`, `{"name": "g_users"}`), false},
	{"group name a number", docWith(`"name": "g_users"`, `"name": 5`), false},
	{"group id a string", docWith(`"id": 4123`, `"id": "4123"`), false},
	{"token as a string", docWith(`{"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}`, `"x"`), false},
	{"token null", docWith(`{"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}`, `null`), true},
	{"no username", docWith(`"username": "someuser",`, ``), true},
	{"empty username", docWith(`"username": "someuser",`, `"username": "",`), true},
	{"null username", docWith(`"username": "someuser",`, `"username": null,`), true},
	{"unknown token type", docWith(`"internal"`, `"bogus"`), true},
	{"token type in capitals", docWith(`"internal"`, `"INTERNAL"`), true},
	{"no created", docWith(`"created": 1764318000,`, ``), true},
	{"null created", docWith(`"created": 1764318000,`, `"created": null,`), true},
	{"no token", docWith(`,
 "token": {"key": "5KVApqcVbSQWtO3VIRgOhQ", "secret": "8t5XdPSYTrteD0pDB15zqQ"}`, ``), true},
	{"another token's data", docWith(docKey, "AAAAAAAAAAAAAAAAAAAAAA"), true},
	{"null key", docWith(`"`+docKey+`"`, `null`), true},
}

// The fast path reads what encoding/json reads, and the result of
// decodeTokenData is the same with it as without it: the same data, or
// the same error.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkSameDecode(t, []byte(tc.json))
			if _, ok := loadFast([]byte(tc.json)); ok != tc.fast {
				t.Errorf("loadFast handled it: %v, want %v", ok, tc.fast)
			}
		})
	}
}

// FuzzDecodeMatchesEncodingJSON is TestDecodeMatchesEncodingJSON on what
// the fuzzer makes of decodeCases.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.json))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		checkSameDecode(t, plain)
	})
}

// checkSameDecode fails t if decodeTokenData's result for plain differs
// from encoding/json's, or if loadFast reads plain but not as
// json.Unmarshal does.
func checkSameDecode(t *testing.T, plain []byte) {
	t.Helper()
	got, gotErr := decodeTokenData(plain, docKey, decodeNow)
	want, wantErr := decodeWithJSON(plain, docKey, decodeNow)
	if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeTokenData(%q) = %+v, %v\nencoding/json: %+v, %v", plain, got, gotErr, want, wantErr)
	}
	fast, ok := loadFast(plain)
	if !ok {
		return
	}
	var j loadedToken
	if err := json.Unmarshal(plain, &j); err != nil {
		t.Fatalf("loadFast read %q, which encoding/json refuses: %v", plain, err)
	}
	if s, isList := fast.Scopes.([]string); isList {
		fast.Scopes = toAny(s) // encoding/json's form of a list of strings
	}
	if !reflect.DeepEqual(fast, j) {
		t.Fatalf("loadFast(%q) = %+v\nencoding/json: %+v", plain, fast, j)
	}
}

// decodeWithJSON is decodeTokenData with encoding/json alone.
func decodeWithJSON(plain []byte, key string, now time.Time) (domain.TokenData, error) {
	j, err := loadJSON(plain)
	if err != nil {
		return domain.TokenData{}, err
	}
	return j.tokenData(key, now)
}

// loadFast names fields in lists of its own; they must be the structs'
// JSON names, or it would skip a field encoding/json reads.
func TestFastKeysMatchJSONTags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keys []string
		typ  reflect.Type
	}{
		{tokenKeys, reflect.TypeFor[loadedToken]()},
		{groupKeys, reflect.TypeFor[loadedGroup]()},
		{tokenPairKeys, reflect.TypeFor[tokenPair]()},
	} {
		var tags []string
		for f := range tc.typ.Fields() {
			tags = append(tags, f.Tag.Get("json"))
		}
		if !reflect.DeepEqual(tc.keys, tags) {
			t.Errorf("loadFast's keys for %s are %q, its JSON names %q", tc.typ, tc.keys, tags)
		}
	}
}

// BenchmarkDecodeTokenDataJSON is BenchmarkDecodeTokenData with
// encoding/json alone, for comparison.
func BenchmarkDecodeTokenDataJSON(b *testing.B) {
	plain := []byte(pydanticJSON)
	for b.Loop() {
		if _, err := decodeWithJSON(plain, docKey, decodeNow); err != nil {
			b.Fatal(err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func compact(s string) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func indent(s string) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "", "    "); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
