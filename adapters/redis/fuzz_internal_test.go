package redis

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/internal/fernetbox"
)

// fuzzSessionSecret seals the values of the fuzz targets here.
const fuzzSessionSecret = "dG9rZW5jYWNoZSBmdXp6IHNlc3Npb24gc2VjcmV0ISE="

// FuzzOpenStoredValue follows GetByKey from the bytes Redis returns to
// token data: open, then decode. Whatever the bytes, it must not panic, and
// a decoding error must not quote the data. The fuzzer's bytes are read
// as a value as they are, and also signed with the session secret as the
// body of a Fernet token (version, timestamp, IV, ciphertext), so that the
// fuzzer gets past the signature to the decryption and the padding, which
// only a holder of the secret can reach.
func FuzzOpenStoredValue(f *testing.F) {
	box := fuzzBox(f)
	header := append([]byte{0x80, 0, 0, 0, 0, 0x6a, 0, 0, 0}, make([]byte, 16)...)
	f.Add(header)                              // no ciphertext: fernet-go's decryption panicked
	f.Add(append(header, make([]byte, 16)...)) // bad padding
	f.Add(append(header, make([]byte, 15)...)) // not a whole block
	f.Add(header[:1])                          // short
	f.Add(fernetBody(f, box, []byte(pydanticJSON)))
	f.Add(fernetBody(f, box, []byte(`{"token": {"key": "`+docKey+`"}}`)))
	f.Add(fernetBody(f, box, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		key, err := fernet.DecodeKey(fuzzSessionSecret)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, key[:16]) // Fernet's signing key is the first half
		mac.Write(body)
		signed := base64.URLEncoding.AppendEncode(nil, mac.Sum(bytes.Clone(body)))
		for _, value := range [][]byte{body, signed} {
			if plain := box.Open(value); plain != nil {
				checkDecodeQuotesNothing(t, plain)
			}
		}
	})
}

// FuzzSealedTokenData checks that any plaintext comes back from sealing
// and opening as it was, and decodes as it does unsealed.
func FuzzSealedTokenData(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.json))
	}
	box := fuzzBox(f)
	f.Fuzz(func(t *testing.T, plain []byte) {
		sealed, err := box.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		opened := box.Open(sealed)
		if opened == nil || !bytes.Equal(opened, plain) {
			t.Fatalf("Open(Seal(%q)) = %q", plain, opened)
		}
		got, gotErr := decodeTokenData(opened, docKey, decodeNow)
		want, wantErr := decodeTokenData(plain, docKey, decodeNow)
		if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("sealed %q decodes as %+v, %v; unsealed as %+v, %v", plain, got, gotErr, want, wantErr)
		}
		checkDecodeQuotesNothing(t, plain)
	})
}

// checkDecodeQuotesNothing fails t if decoding plain fails with an error
// that quotes a token-like fragment of it, such as the token's secret.
func checkDecodeQuotesNothing(t *testing.T, plain []byte) {
	t.Helper()
	_, err := decodeTokenData(plain, docKey, decodeNow)
	if err == nil {
		return
	}
	const window = 16 // no error message here has a run of name characters this long
	run := 0
	for i, c := range plain {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_+/=", c) >= 0) {
			run = 0
			continue
		}
		if run++; run >= window && strings.Contains(err.Error(), string(plain[i+1-window:i+1])) {
			t.Fatalf("decoding %q fails with %q, which quotes %q", plain, err, plain[i+1-window:i+1])
		}
	}
}

func fuzzBox(f *testing.F) *fernetbox.Box {
	f.Helper()
	box, err := fernetbox.New(fuzzSessionSecret)
	if err != nil {
		f.Fatal(err)
	}
	return box
}

// fernetBody is plain sealed by box, less the base64 and the HMAC: the
// form FuzzOpenStoredValue signs.
func fernetBody(f *testing.F, box *fernetbox.Box, plain []byte) []byte {
	f.Helper()
	sealed, err := box.Seal(plain)
	if err != nil {
		f.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(string(sealed))
	if err != nil {
		f.Fatal(err)
	}
	return raw[:len(raw)-sha256.Size]
}
