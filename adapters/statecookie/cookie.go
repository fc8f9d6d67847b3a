package statecookie

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fernet/fernet-go"

	"github.com/tokencache/tokencache/domain"
)

// Name is the state cookie's name, Gafaelfawr's COOKIE_NAME.
const Name = "gafaelfawr"

// errBadSessionSecret never quotes the secret, nor the base64 decoder's
// message about it.
var errBadSessionSecret = errors.New(
	"session secret is not URL-safe base64 of 32 bytes (the form of Python's Fernet.generate_key())")

// Codec opens and makes state cookies with one session secret. It is safe
// for concurrent use.
type Codec struct {
	keys []*fernet.Key // one key; fernet-go's decrypt takes a list
}

// state is the part of Gafaelfawr's cookie state this package reads and
// writes. A pointer tells a missing or null token from an empty one.
type state struct {
	Token *string `json:"token,omitempty"`
}

// New returns a Codec for sessionSecret, which must be in the form
// Fernet.generate_key() makes and Gafaelfawr's configuration holds:
// URL-safe base64, padded, of 32 bytes. fernet.DecodeKey would also take
// hex, so a secret pasted in another form could start a server that reads
// no cookie Gafaelfawr wrote.
func New(sessionSecret string) (*Codec, error) {
	raw, err := base64.URLEncoding.DecodeString(sessionSecret)
	if err != nil || len(raw) != len(fernet.Key{}) {
		return nil, errBadSessionSecret
	}
	var key fernet.Key
	copy(key[:], raw)
	return &Codec{keys: []*fernet.Key{&key}}, nil
}

// Token returns the session token held by a state cookie's value, and
// false if the value was not made with the session secret, is not
// Gafaelfawr's cookie state, or holds no well-formed token (a user who has
// not logged in, or has logged out, has a cookie without one).
func (c *Codec) Token(value string) (domain.Token, bool) {
	plain := c.open([]byte(value))
	if plain == nil {
		return domain.Token{}, false
	}
	var s state
	if err := json.Unmarshal(plain, &s); err != nil || s.Token == nil {
		return domain.Token{}, false
	}
	token, err := domain.ParseToken(*s.Token)
	if err != nil {
		return domain.Token{}, false
	}
	return token, true
}

// Encode returns the value of a state cookie that holds token, as
// Gafaelfawr makes it when a user logs in (less the CSRF token, which this
// package does not read). It is for tests and tools that need a logged-in
// browser; the value contains the token, so never log it.
func (c *Codec) Encode(token domain.Token) (string, error) {
	s := token.String()
	plain, err := json.Marshal(state{Token: &s})
	if err != nil {
		return "", fmt.Errorf("encoding cookie state: %w", err)
	}
	sealed, err := fernet.EncryptAndSign(plain, c.keys[0])
	if err != nil {
		return "", fmt.Errorf("encrypting cookie state: %w", err)
	}
	return string(sealed), nil
}

// open returns the plaintext of a Fernet token made with the session
// secret, or nil if value is not one. The token's age is not checked (ttl
// 0, as Gafaelfawr decrypts without one).
func (c *Codec) open(value []byte) (plain []byte) {
	// fernet-go indexes out of range, instead of rejecting the token, when
	// the HMAC is valid but no ciphertext block follows the header. Only a
	// holder of the session secret could make such a value, but a cookie
	// must never crash the process.
	defer func() {
		if recover() != nil {
			plain = nil
		}
	}()
	return fernet.VerifyAndDecrypt(value, 0, c.keys)
}
