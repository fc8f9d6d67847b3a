package redis

import (
	"strings"
	"testing"
)

// Gafaelfawr reads token data with Pydantic's JSON parser (jiter), which
// refuses a \u escape that is half a surrogate pair, and more than 200
// objects and lists open at once that hold something (checked with
// pydantic 2.13's model_validate_json). Gafaelfawr then answers "no such
// token", and its audit reports the entry as malformed: so does this.
func TestDecodeRefusesWhatPydanticsParserRefuses(t *testing.T) {
	t.Parallel()
	const head = `{"username":"someuser","token_type":"user","scopes":[],"created":1764318000,` +
		`"token":{"key":"5KVApqcVbSQWtO3VIRgOhQ","secret":"8t5XdPSYTrteD0pDB15zqQ"}`
	holding := func(n int, inner string) string {
		return head + `,"extra":` + strings.Repeat("[", n) + inner + strings.Repeat("]", n) + `}`
	}
	nested := func(n int) string { return holding(n, "") }
	for _, tt := range []struct {
		name, plain string
		want        bool
	}{
		{"lone high surrogate in a value", strings.Replace(head, `"someuser"`, `"someuser\ud800"`, 1) + `}`, false},
		{"lone low surrogate in a value", strings.Replace(head, `"someuser"`, `"someuser\udc00"`, 1) + `}`, false},
		{"lone surrogate in an unknown field", head + `,"extra":"\ud83d"}`, false},
		{"high surrogate before another escape", head + `,"extra":"\ud83d\u0041"}`, false},
		{"high surrogate before a letter", head + `,"extra":"\ud83dA"}`, false},
		{"pair the wrong way round", head + `,"extra":"\ude00\ud83d"}`, false},
		{"a pair", head + `,"extra":"\ud83d\ude00"}`, true},
		{"an escaped backslash before u", head + `,"extra":"\\ud800"}`, true},
		{"200 levels in an unknown field", nested(200), true},
		{"201 levels in an unknown field", nested(201), false},
		// Only objects and lists that hold something count.
		{"199 levels holding an empty list", holding(199, "[]"), true},
		{"200 levels, the last holding 0", holding(200, "0"), false},
		{"200 levels, the last holding a string", holding(200, `"x"`), false},
		{"199 levels holding an object", holding(199, `{"a":1}`), false},
		{"a string with brackets", head + `,"extra":"` + strings.Repeat("[", 300) + `"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeTokenData([]byte(tt.plain), "5KVApqcVbSQWtO3VIRgOhQ", decodeNow)
			if (err == nil) != tt.want {
				t.Errorf("decodeTokenData = %v, want accepted %v, as Pydantic", err, tt.want)
			}
		})
	}
}
