// Package fernetbox seals and opens values with Gafaelfawr's session
// secret, as its Python side does with cryptography's Fernet: token data in
// Redis and the state cookie are both sealed this way, with the same key.
package fernetbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/fernet/fernet-go"
)

// ErrBadSessionSecret never quotes the secret, nor the base64 decoder's
// message about it.
var ErrBadSessionSecret = errors.New(
	"session secret is not base64 of 32 bytes, as Python's Fernet reads it (the form of Fernet.generate_key())")

// Box seals and opens with one session secret. It is safe for concurrent
// use.
type Box struct {
	key     *fernet.Key  // for Seal
	signing []byte       // the key's first half, for the HMAC
	block   cipher.Block // its second half, for AES-128-CBC
}

// A Fernet token's parts: the version byte, the timestamp, the IV, the
// ciphertext (whole AES blocks, at least one) and the HMAC-SHA256 of all
// that comes before it.
const (
	version      = 0x80
	headerLen    = 1 + 8 + aes.BlockSize
	minimumToken = headerLen + aes.BlockSize + sha256.Size
)

// New reads the session secret as Python's Fernet(key) does, with
// base64.urlsafe_b64decode (see pythonB64Decode): the URL-safe form that
// Fernet.generate_key() makes, the standard alphabet too, and characters
// outside the alphabet skipped, so that any secret Gafaelfawr starts with
// is read as the same 32 bytes. fernet.DecodeKey would also take hex,
// which Python would read as other bytes or refuse. Its error is
// ErrBadSessionSecret.
func New(sessionSecret string) (*Box, error) {
	raw, ok := pythonB64Decode(sessionSecret)
	if !ok || len(raw) != len(fernet.Key{}) {
		return nil, ErrBadSessionSecret
	}
	var key fernet.Key
	copy(key[:], raw)
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, ErrBadSessionSecret
	}
	return &Box{key: &key, signing: key[:16], block: block}, nil
}

// Seal returns the Fernet token of plain.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	return fernet.EncryptAndSign(plain, b.key)
}

// Open returns the plaintext of a Fernet token made with the session
// secret, or nil if value is not one: the checks of Python's
// Fernet.decrypt, whose InvalidToken is nil here. The value is read as
// base64.urlsafe_b64decode reads it, and the padding must be PKCS #7's,
// which fernet-go does not check.
//
// The token's age is not checked, as Python's decrypt does not with
// ttl=None: Redis's TTL is what ends a token, and Gafaelfawr's state
// cookie has no age limit either.
func (b *Box) Open(value []byte) []byte {
	data, ok := pythonB64Decode(string(value))
	if !ok || len(data) < minimumToken || data[0] != version || (len(data)-headerLen-sha256.Size)%aes.BlockSize != 0 {
		return nil
	}
	signed, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	mac := hmac.New(sha256.New, b.signing)
	mac.Write(signed)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil
	}
	iv, ciphertext := signed[1+8:headerLen], signed[headerLen:]
	cipher.NewCBCDecrypter(b.block, iv).CryptBlocks(ciphertext, ciphertext) // in place: data is ours
	return unpad(ciphertext)
}

// unpad removes PKCS #7 padding from whole AES blocks: n bytes of value n,
// from 1 to the block size; it returns nil if there are none.
func unpad(plain []byte) []byte {
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize {
		return nil
	}
	for _, c := range plain[len(plain)-n:] {
		if int(c) != n {
			return nil
		}
	}
	return plain[:len(plain)-n]
}

// pythonB64Decode is Python's base64.urlsafe_b64decode: "-" and "_" read
// as "+" and "/", then binascii.a2b_base64 without strict mode. Characters
// outside the alphabet are skipped; a "=" that completes a group of four
// ends the input, and any other is skipped; the data must end on a whole
// group. What Go's decoder takes, padded URL-safe base64 as Python writes
// it, it decodes alike, faster.
func pythonB64Decode(s string) ([]byte, bool) {
	if out, err := base64.URLEncoding.DecodeString(s); err == nil {
		return out, true
	}
	out := make([]byte, 0, len(s)*3/4)
	var quad, pads int
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			if quad >= 2 {
				if pads++; quad+pads >= 4 {
					return out, true
				}
			}
			continue
		}
		v := b64Value(c)
		if v < 0 {
			continue
		}
		pads = 0
		switch quad {
		case 0:
			left = byte(v)
		case 1:
			out = append(out, left<<2|byte(v)>>4)
			left = byte(v) & 0x0f
		case 2:
			out = append(out, left<<4|byte(v)>>2)
			left = byte(v) & 0x03
		case 3:
			out = append(out, left<<6|byte(v))
		}
		quad = (quad + 1) % 4
	}
	return out, quad == 0
}

// b64Value is c's value in base64, either alphabet, or -1.
func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}
