package statecookie

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

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

// state is the part of Gafaelfawr's cookie state this package writes.
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
	held, ok := readState(plain)
	if !ok || held == "" {
		return domain.Token{}, false
	}
	token, err := domain.ParseToken(held)
	if err != nil {
		return domain.Token{}, false
	}
	return token, true
}

// readState returns the token a cookie's plaintext holds ("" for none), as
// Gafaelfawr's State model reads it (models/state.py, Pydantic's
// model_validate_json), or false where the model refuses the whole state,
// which Gafaelfawr then discards, token and all: text that is not UTF-8,
// or not a JSON object, or a field, named exactly, whose value is not of
// its type. Other fields are ignored, and of a field given twice the last
// counts. The token is a string or an object of a key and a secret.
func readState(plain []byte) (token string, ok bool) {
	var fields map[string]json.RawMessage
	if !utf8.Valid(plain) || json.Unmarshal(plain, &fields) != nil || fields == nil {
		return "", false
	}
	for _, name := range []string{"csrf", "github", "return_url", "state"} {
		if raw, ok := fields[name]; ok && !isNull(raw) && !isString(raw) {
			return "", false
		}
	}
	if raw, ok := fields["login_start"]; ok && !isNull(raw) && !isDatetime(raw) {
		return "", false
	}
	raw, ok := fields["token"]
	if !ok || isNull(raw) {
		return "", true
	}
	if json.Unmarshal(raw, &token) == nil {
		return token, true
	}
	// A Token object, which Gafaelfawr never writes but reads.
	var object map[string]json.RawMessage
	var key, secret string
	if json.Unmarshal(raw, &object) != nil || object == nil ||
		json.Unmarshal(object["key"], &key) != nil || json.Unmarshal(object["secret"], &secret) != nil {
		return "", false
	}
	return "gt-" + key + "." + secret, true
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func isString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }

// datePattern is a date, and optionally a time and an offset, in the forms
// Pydantic's datetime parser (speedate) reads.
var datePattern = regexp.MustCompile(
	`^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$`)

// numberPattern is a number in a string, which Pydantic reads as a time
// since 1970, as it does a JSON number.
var numberPattern = regexp.MustCompile(`^[+-]?\d+(?:\.\d+)?$`)

// isDatetime reports whether raw is a JSON value Pydantic reads as a
// datetime in lax mode: a number, or a string holding one or holding a
// date that exists, with a time of day that does. A number's range is not
// checked: Gafaelfawr writes login_start only as an ISO 8601 string.
func isDatetime(raw json.RawMessage) bool {
	var n json.Number
	if raw[0] != '"' {
		return json.Unmarshal(raw, &n) == nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	if numberPattern.MatchString(s) {
		return true
	}
	m := datePattern.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	y, mo, d := num(1), num(2), num(3)
	if date := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC); date.Month() != time.Month(mo) || date.Day() != d {
		return false
	}
	return num(4) < 24 && num(5) < 60 && num(6) < 60
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
