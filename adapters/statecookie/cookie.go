package statecookie

import (
	"encoding/json"
	"fmt"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/fernetbox"
)

// Name is the state cookie's name, Gafaelfawr's COOKIE_NAME.
const Name = "gafaelfawr"

// Codec opens and makes state cookies with one session secret. It is safe
// for concurrent use.
type Codec struct {
	box *fernetbox.Box
}

// state is the part of Gafaelfawr's cookie state this package reads and
// writes. A pointer tells a missing or null token from an empty one.
type state struct {
	Token *string `json:"token,omitempty"`
}

// New returns a Codec for sessionSecret, Gafaelfawr's session secret, read
// as Python's Fernet reads it (see fernetbox.New). Its error never quotes
// the secret.
func New(sessionSecret string) (*Codec, error) {
	box, err := fernetbox.New(sessionSecret)
	if err != nil {
		return nil, err
	}
	return &Codec{box: box}, nil
}

// Token returns the session token held by a state cookie's value, and
// false if the value was not made with the session secret, is not
// Gafaelfawr's cookie state, or holds no well-formed token (a user who has
// not logged in, or has logged out, has a cookie without one).
func (c *Codec) Token(value string) (domain.Token, bool) {
	plain := c.box.Open([]byte(value))
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
	sealed, err := c.box.Seal(plain)
	if err != nil {
		return "", fmt.Errorf("encrypting cookie state: %w", err)
	}
	return string(sealed), nil
}
