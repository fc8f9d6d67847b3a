package fernetbox_test

import (
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
		"standard base64":     base64.StdEncoding.EncodeToString([]byte("\xfb\xff" + string(raw[2:]))),
		"trailing garbage":    good + "AAAA",
		"embedded whitespace": good[:10] + " " + good[10:],
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
		"empty":          nil,
		"not Fernet":     []byte("hello"),
		"another secret": fromOther,
		"truncated":      good[:len(good)-8],
		// fernet-go panics on this one, which Open must survive.
		"HMAC valid, no payload": emptyPayload(t),
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

// emptyPayload builds, by the Fernet spec, a token with a valid HMAC and
// no ciphertext block.
func emptyPayload(t *testing.T) []byte {
	t.Helper()
	key, err := base64.URLEncoding.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 1+8+16) // version, timestamp, IV
	msg[0] = 0x80
	binary.BigEndian.PutUint64(msg[1:], uint64(time.Now().Unix()))
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(msg)
	return []byte(base64.URLEncoding.EncodeToString(mac.Sum(msg)))
}
