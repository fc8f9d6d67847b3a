package redis

import (
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
