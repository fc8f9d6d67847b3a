package fernetbox_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/internal/fernetbox"
)

// secret is 32 bytes in URL-safe base64, as Fernet.generate_key() writes
// them.
const secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY="

func TestNewRefusesBadSecrets(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789ABCDEF")
	good := base64.URLEncoding.EncodeToString(raw)
	for name, s := range map[string]string{
		"empty":               "",
		"not base64":          "this is not base64 at all, it is a passphrase!!",
		"31 bytes":            base64.URLEncoding.EncodeToString(raw[:31]),
		"33 bytes":            base64.URLEncoding.EncodeToString(append(raw, 'x')),
		"unpadded":            strings.TrimRight(good, "="),
		"hex":                 hex.EncodeToString(raw),
		"garbage, then a pad": "AAAA" + good,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fernetbox.New(s)
			if !errors.Is(err, fernetbox.ErrBadSessionSecret) {
				t.Fatalf("New = %v, want ErrBadSessionSecret", err)
			}
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
	if _, err := fernetbox.New(good); err != nil {
		t.Fatalf("New refused a good secret: %v", err)
	}
}

// Python's Fernet(key) reads the secret with base64.urlsafe_b64decode, so
// Gafaelfawr starts with these forms of a key too, and reads them as the
// same 32 bytes: a box made from each opens what the canonical form seals.
func TestNewReadsTheSecretAsPythonsFernetDoes(t *testing.T) {
	raw := []byte("\xfb\xff" + "23456789abcdef0123456789ABCDEF")
	good := base64.URLEncoding.EncodeToString(raw)
	sealed, err := mustNew(t, good).Seal([]byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"standard alphabet (openssl rand -base64 32)": base64.StdEncoding.EncodeToString(raw),
		"a trailing newline":                          good + "\n",
		"embedded white space":                        good[:10] + " \t" + good[10:],
		"anything after the padding":                  good + "AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			box, err := fernetbox.New(s)
			if err != nil {
				t.Fatalf("New = %v, want the secret Gafaelfawr reads", err)
			}
			if got := box.Open(sealed); string(got) != "plain" {
				t.Errorf("Open = %q, want what the canonical form sealed", got)
			}
		})
	}
}

func TestSealThenOpen(t *testing.T) {
	box := mustNew(t, secret)
	sealed, err := box.Seal([]byte("plain text"))
	if err != nil {
		t.Fatal(err)
	}
	if got := box.Open(sealed); string(got) != "plain text" {
		t.Errorf("Open(Seal(x)) = %q, want x", got)
	}
	// What Python's Fernet with the same key would read.
	if got := fernet.VerifyAndDecrypt(sealed, 0, fernet.MustDecodeKeys(secret)); string(got) != "plain text" {
		t.Errorf("fernet-go reads %q, want the plain text", got)
	}
}

func TestOpenRefusesOtherValues(t *testing.T) {
	box := mustNew(t, secret)
	other := mustNew(t, base64.URLEncoding.EncodeToString([]byte("another key of thirty-two bytes!")))
	fromOther, err := other.Seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := box.Seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string][]byte{
		"empty":                  nil,
		"not Fernet":             []byte("hello"),
		"another secret":         fromOther,
		"truncated":              good[:len(good)-8],
		"HMAC valid, no payload": signed(t, nil),
		// Padding cryptography's PKCS7 unpadder refuses, as fernet-go
		// does not: a last byte of 0, of more than a block, or of a
		// value the bytes before it do not repeat.
		"padding of 0":          signed(t, []byte("0123456789abcde\x00")),
		"padding of 17":         signed(t, []byte(strings.Repeat("\x11", 32))),
		"padding of 32":         signed(t, []byte(strings.Repeat(" ", 32))),
		"padding not repeated":  signed(t, []byte("0123456789abc\x01\x03\x03")),
		"ciphertext not blocks": signedRaw(t, make([]byte, 20)),
	} {
		t.Run(name, func(t *testing.T) {
			if got := box.Open(value); got != nil {
				t.Errorf("Open = %q, want nil", got)
			}
		})
	}
}

func mustNew(t *testing.T, s string) *fernetbox.Box {
	t.Helper()
	box, err := fernetbox.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// signed builds, by the Fernet spec, a token with a valid HMAC whose
// ciphertext is padded, a block at a time, as given: padded must be whole
// blocks (or none, for no ciphertext at all).
func signed(t *testing.T, padded []byte) []byte {
	t.Helper()
	key := secretBytes(t)
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, aes.BlockSize)
	ciphertext := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, padded)
	return signedRaw(t, ciphertext)
}

// signedRaw builds a token with a valid HMAC and ciphertext as given.
func signedRaw(t *testing.T, ciphertext []byte) []byte {
	t.Helper()
	msg := make([]byte, 1+8+16, 1+8+16+len(ciphertext)+32) // version, timestamp, IV
	msg[0] = 0x80
	binary.BigEndian.PutUint64(msg[1:], uint64(time.Now().Unix()))
	msg = append(msg, ciphertext...)
	mac := hmac.New(sha256.New, secretBytes(t)[:16])
	mac.Write(msg)
	return []byte(base64.URLEncoding.EncodeToString(mac.Sum(msg)))
}

func secretBytes(t *testing.T) []byte {
	t.Helper()
	key, err := base64.URLEncoding.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// A token is read as base64.urlsafe_b64decode reads it: what Python's
// Fernet opens, Open opens.
func TestOpenReadsTheTokenAsPythonsFernetDoes(t *testing.T) {
	box := mustNew(t, secret)
	sealed, err := box.Seal([]byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(sealed)
	std := strings.NewReplacer("-", "+", "_", "/").Replace(good)
	for name, value := range map[string]string{
		"standard alphabet":          std,
		"characters outside":         good[:20] + "!*\xe9 " + good[20:],
		"anything after the padding": strings.TrimRight(good, "=") + strings.Repeat("=", 4-len(strings.TrimRight(good, "="))%4) + "AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			if got := box.Open([]byte(value)); string(got) != "plain" {
				t.Errorf("Open = %q, want the plain text", got)
			}
		})
	}
	// With a proper padding (one to sixteen bytes of that value) it opens.
	if got := box.Open(signed(t, []byte("0123456789abc\x03\x03\x03"))); string(got) != "0123456789abc" {
		t.Errorf("Open of a token padded with three 3s = %q", got)
	}
}
