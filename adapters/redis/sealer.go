package redis

import (
	"encoding/base64"
	"errors"

	"github.com/fernet/fernet-go"
)

// errBadSessionSecret never quotes the secret, nor the base64 decoder's
// message about it.
var errBadSessionSecret = errors.New(
	"session secret is not URL-safe base64 of 32 bytes (the form of Python's Fernet.generate_key())")

// sealer seals token data with the session secret, as Gafaelfawr does.
type sealer struct {
	keys []*fernet.Key // one key; fernet-go's decrypt takes a list
}

// newSealer accepts the session secret only in the form Fernet.generate_key()
// makes, which is what Gafaelfawr's configuration holds. fernet.DecodeKey
// would also take hex, so a secret pasted in another form could start a
// server that can read nothing Gafaelfawr wrote.
func newSealer(sessionSecret string) (*sealer, error) {
	raw, err := base64.URLEncoding.DecodeString(sessionSecret)
	if err != nil || len(raw) != len(fernet.Key{}) {
		return nil, errBadSessionSecret
	}
	var key fernet.Key
	copy(key[:], raw)
	return &sealer{keys: []*fernet.Key{&key}}, nil
}

// seal returns the Fernet token of plain.
func (s *sealer) seal(plain []byte) ([]byte, error) {
	return fernet.EncryptAndSign(plain, s.keys[0])
}

// open returns the plaintext of a Fernet token made with the session
// secret, or nil if value is not one.
//
// The token's age is not checked (ttl 0 makes fernet-go skip that check, as
// Python's decrypt does with ttl=None): Redis's TTL is what ends a token.
func (s *sealer) open(value []byte) (plain []byte) {
	// fernet-go indexes out of range, instead of rejecting the token, when
	// the HMAC is valid but no ciphertext block follows the header. Only a
	// holder of the session secret could make such a token, but a bad value
	// in Redis must never crash the process.
	defer func() {
		if recover() != nil {
			plain = nil
		}
	}()
	return fernet.VerifyAndDecrypt(value, 0, s.keys)
}
