package statecookie_test

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/domain"
)

// secret is the key of the golden cookies below, 32 bytes in URL-safe
// base64 as Fernet.generate_key() writes them.
const secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY="

// Made once with Python's cryptography Fernet and a pydantic model of
// Gafaelfawr's cookie state, dumped as Gafaelfawr dumps it
// (model_dump_json(exclude_none=True)).
const (
	// {"csrf":"OmNdVTtKKuK_VuJsGFdrqg","token":"gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"}
	pythonLoggedIn = "gAAAAABrDvdFx-mY9A2CZd-GWN3N6zeXYPNy-CW516urze2Y-fRBHuWVWTJ85XagixnZEcVsbbDneAZQXn5NiixSrU0A_YFM6490EOpsLt9CTizP8pzxsFSosAXVhaP_4SfLSLSWGeFFo2q97yM0R_6uvNIk9jcX-fBnZyhiJDoSJAzq3UGLGS8YlJwe0XBrx8jVBggWHQYQ"
	// {"csrf":"x","return_url":"https://example.com/"}: a login under way
	pythonLoggedOut = "gAAAAABrDvdFAyJKNAf9YiJ3OaHMk003KaLtctwIKf4SpgC-WXg-Yo50JfZzubkaVIlsHds067qYJw5aRwt4SeKYIJd40Z70Tw6Ud-r7sJYEyXtrXcFMA9dRP6T8kw7EKCzaWXWbvYOX6OrmCswBI9eR8f-Rj2bTeA=="
)

func TestTokenReadsGafaelfawrsCookie(t *testing.T) {
	c := mustNew(t, secret)
	got, ok := c.Token(pythonLoggedIn)
	want := domain.Token{Key: "AAAAAAAAAAAAAAAAAAAAAw", Secret: "bbbbbbbbbbbbbbbbbbbbbQ"}
	if !ok || got != want {
		t.Fatalf("Token = %v, %v; want the token Gafaelfawr put in the cookie", got.Key, ok)
	}
	if _, ok := c.Token(pythonLoggedOut); ok {
		t.Error("a cookie without a token yielded one")
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	c := mustNew(t, secret)
	token := newToken(t)
	value, err := c.Encode(token)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(value, token.Secret) {
		t.Fatal("the cookie value holds the token in clear")
	}
	if got, ok := c.Token(value); !ok || got != token {
		t.Errorf("Token(Encode(token)) = %v, %v; want the token back", got.Key, ok)
	}
	// The plaintext is what Gafaelfawr's cookie state parses.
	plain := fernet.VerifyAndDecrypt([]byte(value), 0, fernet.MustDecodeKeys(secret))
	if want := `{"token":"` + token.String() + `"}`; string(plain) != want {
		t.Errorf("plaintext = %s, want %s", plain, want)
	}
}

func TestTokenRefusesOtherValues(t *testing.T) {
	c := mustNew(t, secret)
	other := mustNew(t, base64.URLEncoding.EncodeToString([]byte("another key of thirty-two bytes!")))
	fromOther, err := other.Encode(newToken(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"empty":                    "",
		"not Fernet":               "hello",
		"another secret":           fromOther,
		"truncated":                pythonLoggedIn[:len(pythonLoggedIn)-8],
		"not JSON":                 seal(t, "not json"),
		"JSON array":               seal(t, `["gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"]`),
		"token null":               seal(t, `{"token":null,"csrf":"x"}`),
		"token a number":           seal(t, `{"token":5}`),
		"token malformed":          seal(t, `{"token":"gt-short.short"}`),
		"token without its prefix": seal(t, `{"token":"AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"}`),
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			if got, ok := c.Token(value); ok {
				t.Errorf("Token = %v, true; want none", got.Key)
			}
		})
	}
}

func TestNewRefusesABadSecret(t *testing.T) {
	const bad = "this is not base64 at all, it is a passphrase!!"
	_, err := statecookie.New(bad)
	if err == nil {
		t.Fatal("New accepted the secret")
	}
	if strings.Contains(err.Error(), bad) {
		t.Errorf("error %q quotes the secret", err)
	}
}

func mustNew(t *testing.T, s string) *statecookie.Codec {
	t.Helper()
	c, err := statecookie.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newToken(t *testing.T) domain.Token {
	t.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// seal encrypts plain with the test secret.
func seal(t *testing.T, plain string) string {
	t.Helper()
	tok, err := fernet.EncryptAndSign([]byte(plain), fernet.MustDecodeKeys(secret)[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// The state is read as Gafaelfawr's State model reads it; the expected
// tokens are what Pydantic 2.13's model_validate_json of a replica of that
// model gave (none where it refused the whole state).
func TestTokenReadsTheStateAsPydanticReadsIt(t *testing.T) {
	const tok = "gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"
	with := func(fields string) string { return `{` + fields + `,"token":"` + tok + `"}` }
	for _, tt := range []struct {
		name, plain string
		want        bool
	}{
		{"plain", `{"token":"` + tok + `"}`, true},
		{"a name in capitals", `{"TOKEN":"` + tok + `"}`, false},
		{"csrf a number", with(`"csrf":5`), false},
		{"csrf null", with(`"csrf":null`), true},
		{"every string field", with(`"csrf":"x","github":"y","return_url":"z","state":"s"`), true},
		{"github a boolean", with(`"github":true`), false},
		{"return_url a list", with(`"return_url":[]`), false},
		{"state an object", with(`"state":{}`), false},
		{"login_start not a date", with(`"login_start":"yesterday"`), false},
		{"login_start in UTC", with(`"login_start":"2026-12-02T10:00:00Z"`), true},
		{"login_start with an offset", with(`"login_start":"2026-12-02T10:00:00.123456+01:00"`), true},
		{"login_start without seconds", with(`"login_start":"2026-12-02 10:00"`), true},
		{"login_start a date", with(`"login_start":"2026-12-02"`), true},
		{"login_start a thirteenth month", with(`"login_start":"2026-13-02"`), false},
		{"login_start a 30 February", with(`"login_start":"2026-02-30T10:00:00"`), false},
		{"login_start a number", with(`"login_start":1764669600`), true},
		{"login_start a fraction", with(`"login_start":1764669600.5`), true},
		{"login_start a number in a string", with(`"login_start":"1764669600"`), true},
		{"login_start a boolean", with(`"login_start":true`), false},
		{"token an object", `{"token":{"key":"AAAAAAAAAAAAAAAAAAAAAw","secret":"bbbbbbbbbbbbbbbbbbbbbQ"}}`, true},
		{"token an object with more", `{"token":{"key":"AAAAAAAAAAAAAAAAAAAAAw","secret":"bbbbbbbbbbbbbbbbbbbbbQ","x":1}}`, true},
		{"token an object without a secret", `{"token":{"key":"AAAAAAAAAAAAAAAAAAAAAw"}}`, false},
		{"token an object with a number", `{"token":{"key":5,"secret":"bbbbbbbbbbbbbbbbbbbbbQ"}}`, false},
		{"another field", with(`"other":1`), true},
		{"the token twice, the last good", `{"token":"x","token":"` + tok + `"}`, true},
		{"the token twice, the last bad", `{"token":"` + tok + `","token":"x"}`, false},
		{"not UTF-8", with(`"csrf":"` + "\xff" + `"`), false},
		{"trailing white space", `{"token":"` + tok + `"} `, true},
		{"trailing text", `{"token":"` + tok + `"}x`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, secret)
			got, ok := c.Token(seal(t, tt.plain))
			if ok != tt.want || ok && got.String() != tok {
				t.Errorf("Token = %v, %v; want a token %v", got.Key, ok, tt.want)
			}
		})
	}
}
