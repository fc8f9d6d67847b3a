// Package fernetbox seals and opens values with Gafaelfawr's session
// secret, as its Python side does with cryptography's Fernet: token data in
// Redis and the state cookie are both sealed this way, with the same key.
package fernetbox

import (
	"encoding/base64"
	"errors"

	"github.com/fernet/fernet-go"
)

// ErrBadSessionSecret never quotes the secret, nor the base64 decoder's
// message about it.
var ErrBadSessionSecret = errors.New(
	"session secret is not URL-safe base64 of 32 bytes (the form of Python's Fernet.generate_key())")

// Box seals and opens with one session secret. It is safe for concurrent
// use.
type Box struct {
	keys []*fernet.Key // one key; fernet-go's decrypt takes a list
}

// New accepts the session secret only in the form Fernet.generate_key()
// makes, which is what Gafaelfawr's configuration holds. fernet.DecodeKey
// would also take hex, so a secret pasted in another form could start a
// server that can read nothing Gafaelfawr wrote. Its error is
// ErrBadSessionSecret.
func New(sessionSecret string) (*Box, error) {
	raw, err := base64.URLEncoding.DecodeString(sessionSecret)
	if err != nil || len(raw) != len(fernet.Key{}) {
		return nil, ErrBadSessionSecret
	}
	var key fernet.Key
	copy(key[:], raw)
	return &Box{keys: []*fernet.Key{&key}}, nil
}

// Seal returns the Fernet token of plain.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	return fernet.EncryptAndSign(plain, b.keys[0])
}

// Open returns the plaintext of a Fernet token made with the session
// secret, or nil if value is not one.
//
// The token's age is not checked (ttl 0 makes fernet-go skip that check, as
// Python's decrypt does with ttl=None): Redis's TTL is what ends a token,
// and Gafaelfawr's state cookie has no age limit either.
func (b *Box) Open(value []byte) (plain []byte) {
	// fernet-go indexes out of range, instead of rejecting the token, when
	// the HMAC is valid but no ciphertext block follows the header. Only a
	// holder of the session secret could make such a value, but a bad value
	// in Redis or a cookie must never crash the process.
	defer func() {
		if recover() != nil {
			plain = nil
		}
	}()
	return fernet.VerifyAndDecrypt(value, 0, b.keys)
}
