package domain

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

const (
	tokenPrefix = "gt-"
	partBytes   = 16 // 128 random bits for the key and for the secret
	partLength  = 22 // partBytes in unpadded URL-safe base64
)

// Token is an opaque bearer token: a public key that names it in the stores
// and a secret that proves possession. Both are 22 characters of URL-safe
// base64 without padding.
type Token struct {
	Key    string
	Secret string
}

// NewToken draws a new token's key and secret from random, which should be
// crypto/rand.Reader outside tests.
func NewToken(random io.Reader) (Token, error) {
	var buf [2 * partBytes]byte
	if _, err := io.ReadFull(random, buf[:]); err != nil {
		return Token{}, fmt.Errorf("generating token: %w", err)
	}
	enc := base64.RawURLEncoding
	return Token{
		Key:    enc.EncodeToString(buf[:partBytes]),
		Secret: enc.EncodeToString(buf[partBytes:]),
	}, nil
}

// ParseToken parses the "gt-<key>.<secret>" form. Anything else yields an
// error wrapping ErrInvalidToken; the error never quotes the input.
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{}, fmt.Errorf("%w: token does not start with %q", ErrInvalidToken, tokenPrefix)
	}
	key, secret, ok := strings.Cut(rest, ".")
	if !ok {
		return Token{}, fmt.Errorf("%w: token has no \".\" between key and secret", ErrInvalidToken)
	}
	t := Token{Key: key, Secret: secret}
	if err := t.Validate(); err != nil {
		return Token{}, err
	}
	return t, nil
}

// String returns the serialized "gt-<key>.<secret>" form. It contains the
// secret: never log it.
func (t Token) String() string {
	return tokenPrefix + t.Key + "." + t.Secret
}

// Validate reports, wrapping ErrInvalidToken, whether the key or the secret
// is not 22 characters of URL-safe base64.
func (t Token) Validate() error {
	if problem := t.problem(); problem != "" {
		return fmt.Errorf("%w: %s", ErrInvalidToken, problem)
	}
	return nil
}

// problem says what is wrong with t, without quoting it, or is "" if
// nothing is. It lets a caller report a malformed token under a sentinel
// of its own rather than under both that and ErrInvalidToken.
func (t Token) problem() string {
	switch {
	case !ValidTokenPart(t.Key):
		return fmt.Sprintf("token key is not %d characters of URL-safe base64", partLength)
	case !ValidTokenPart(t.Secret):
		return fmt.Sprintf("token secret is not %d characters of URL-safe base64", partLength)
	}
	return ""
}

// SecretMatches compares the secrets in constant time.
// An empty secret matches nothing.
func (t Token) SecretMatches(other Token) bool {
	return t.Secret != "" && subtle.ConstantTimeCompare([]byte(t.Secret), []byte(other.Secret)) == 1
}

// ValidTokenPart reports whether s could be a token key or secret.
func ValidTokenPart(s string) bool {
	if len(s) != partLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
