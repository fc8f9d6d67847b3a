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

// newSealer accepts the session secret only in the form Gafaelfawr is
// configured with. fernet.DecodeKey would also take hex and standard
// base64, which Gafaelfawr's configuration does not promise to accept.
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
	// fernet-go indexes out of range on a token whose HMAC is valid but
	// whose payload is empty or shorter than its header says, instead of
	// rejecting it. Only a holder of the session secret could make one,
	// but a bad value in Redis must never crash the process.
	defer func() {
		if recover() != nil {
			plain = nil
		}
	}()
	return fernet.VerifyAndDecrypt(value, 0, s.keys)
}
