package redis

import (
	"reflect"
	"testing"
	"time"
)

// pydanticJSON is token data as Gafaelfawr writes it (compact).
const pydanticJSON = `{"username":"someuser","name":"Some User","email":"someuser@example.com","uid":4123,` +
	`"gid":4123,"groups":[{"name":"g_users","id":4123},{"name":"g_special","id":5000}],` +
	`"token_type":"internal","service":"portal","scopes":["exec:notebook","read:all","read:tap"],` +
	`"created":1764318000,"expires":1764321600,` +
	`"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}}`

// decodeNow is the time decoding tests read token data at: docJSON's
// creation time.
var decodeNow = time.Unix(1764318000, 0).UTC()

// BenchmarkDecodeTokenData is the CPU part of Get after decryption.
func BenchmarkDecodeTokenData(b *testing.B) {
	plain := []byte(pydanticJSON)
	for b.Loop() {
		if _, err := decodeTokenData(plain, "5KVApqcVbSQWtO3VIRgOhQ", decodeNow); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeReadsNamesExactly: a field is read under its exact name only,
// as Gafaelfawr's model reads it; another that differs in case, or by a
// character that folds to the same (the long s, the Kelvin sign), is an
// unknown field and ignored, even after the real one.
func TestDecodeReadsNamesExactly(t *testing.T) {
	t.Parallel()
	for name, plain := range map[string]string{
		"upper case":   docWith(`"username": "someuser",`, `"username": "someuser", "USERNAME": "intruder",`),
		"title case":   docWith(`"username": "someuser",`, `"username": "someuser", "Username": "intruder",`),
		"long s":       docWith(`"scopes": ["read:all", "read:tap"],`, `"scopes": ["read:all", "read:tap"], "ſcopes": ["admin:token"],`),
		"nested":       docWith(`"secret": "8t5XdPSYTrteD0pDB15zqQ"`, `"secret": "8t5XdPSYTrteD0pDB15zqQ", "SECRET": "x"`),
		"in a group":   docWith(`"name": "g_users"`, `"name": "g_users", "NAME": "g_admins"`),
		"kelvin sign":  docWith(`"key": "5KVApqcVbSQWtO3VIRgOhQ",`, `"key": "5KVApqcVbSQWtO3VIRgOhQ", "\u212Aey": "AAAAAAAAAAAAAAAAAAAAAA",`),
		"before, only": docWith(`"username": "someuser",`, `"USERNAME": "intruder", "username": "someuser",`),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTokenData([]byte(plain), docKey, decodeNow)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeTokenData([]byte(docJSON), docKey, decodeNow)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read %+v\nwant %+v", got, want)
			}
		})
	}
	// The real name alone, in another case, is no field at all.
	if _, err := decodeTokenData([]byte(docWith(`"username"`, `"Username"`)), docKey, decodeNow); err == nil {
		t.Error(`"Username" was read as the username`)
	}
}
