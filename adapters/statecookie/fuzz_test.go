package statecookie_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/domain"
)

// FuzzToken checks that Token never panics on a cookie value, and that a
// token it returns is well formed and survives Encode. Seeds are
// Gafaelfawr's own cookies and what Encode makes.
func FuzzToken(f *testing.F) {
	c := fuzzCodec(f)
	f.Add(pythonLoggedIn)
	f.Add(pythonLoggedOut)
	f.Add(pythonLoggedIn[:len(pythonLoggedIn)-8])
	f.Add("")
	f.Add("gAAAAA")
	f.Add("gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ")
	f.Fuzz(func(t *testing.T, value string) {
		checkToken(t, c, value)
	})
}

// FuzzTokenSigned checks that Token never panics on a value whose HMAC is
// right, whatever follows it: the fuzzer's bytes are the version,
// timestamp, IV and ciphertext of a Fernet token, signed with the session
// secret, so the fuzzer gets past the signature to the decryption, the
// padding and the JSON. Only a holder of the secret can make such a value,
// but a bad one must still not crash the process (no ciphertext after the
// IV once crashed fernet-go's decryption).
func FuzzTokenSigned(f *testing.F) {
	c := fuzzCodec(f)
	key := fernet.MustDecodeKeys(secret)[0]
	header := append([]byte{0x80, 0, 0, 0, 0, 0x6a, 0, 0, 0}, make([]byte, 16)...)
	f.Add(header)                              // no ciphertext
	f.Add(append(header, make([]byte, 16)...)) // one block of zeros: bad padding
	f.Add(append(header[:1:1], header[9:]...)) // short
	f.Add(unsigned(f, pythonLoggedIn))         // Gafaelfawr's logged-in cookie, re-signed
	f.Add(unsigned(f, pythonLoggedOut))        // and its logged-out one
	f.Add(append([]byte{0x81}, header[1:]...)) // another version
	f.Add(append(header, make([]byte, 15)...)) // not a whole block
	f.Fuzz(func(t *testing.T, body []byte) {
		mac := hmac.New(sha256.New, key[:16]) // Fernet's signing key is the first half
		mac.Write(body)
		checkToken(t, c, base64.URLEncoding.EncodeToString(mac.Sum(body)))
	})
}

// FuzzTokenPlaintext checks that Token never panics on any plaintext
// sealed with the session secret: the JSON of a cookie state that is not
// Gafaelfawr's, or not JSON at all.
func FuzzTokenPlaintext(f *testing.F) {
	c := fuzzCodec(f)
	key := fernet.MustDecodeKeys(secret)[0]
	for _, plain := range []string{
		`{"token":"gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"}`,
		`{"csrf":"OmNdVTtKKuK_VuJsGFdrqg","token":"gt-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"}`,
		`{"csrf":"x","return_url":"https://example.com/"}`,
		`{"token":null}`, `{"token":""}`, `{"token":7}`, `{"token":"gt-short.x"}`, `[]`, `null`, ``, "\xff",
		`{"token":"\u0067t-AAAAAAAAAAAAAAAAAAAAAw.bbbbbbbbbbbbbbbbbbbbbQ"}`,
	} {
		f.Add([]byte(plain))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		sealed, err := fernet.EncryptAndSign(plain, key)
		if err != nil {
			t.Fatal(err)
		}
		checkToken(t, c, string(sealed))
	})
}

// checkToken fails t if c.Token(value) returns a token that is not well
// formed or that does not come back from Encode.
func checkToken(t *testing.T, c *statecookie.Codec, value string) {
	t.Helper()
	token, ok := c.Token(value)
	if !ok {
		if token != (domain.Token{}) {
			t.Fatal("Token returned a token with false")
		}
		return
	}
	if err := token.Validate(); err != nil {
		t.Fatalf("Token returned a malformed token: %v", err)
	}
	again, err := c.Encode(token)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Token(again); !ok || got != token {
		t.Fatal("the token read does not survive Encode")
	}
}

func fuzzCodec(f *testing.F) *statecookie.Codec {
	f.Helper()
	c, err := statecookie.New(secret)
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// unsigned is the body of a Fernet token value: its bytes less the HMAC.
func unsigned(tb testing.TB, value string) []byte {
	tb.Helper()
	raw, err := base64.URLEncoding.DecodeString(value)
	if err != nil || len(raw) < sha256.Size {
		tb.Fatalf("not a Fernet token: %v", err)
	}
	return raw[:len(raw)-sha256.Size]
}
