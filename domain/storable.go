package domain

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// The rules of Gafaelfawr's TokenData model (models/token.py,
// models/userinfo.py and types.py) that token data must keep to be stored:
// Gafaelfawr answers "no such token" for data its model refuses, so every
// token store refuses to store what it would refuse to read.

// MaxUnixSeconds is the farthest from 1970 a time may lie, in seconds, and
// be stored: Pydantic reads an integer datetime as seconds within ±2e10
// (the years 1336 to 2603), and as milliseconds beyond.
const MaxUnixSeconds = 20_000_000_000

// CheckStorable returns an error if d is token data that Gafaelfawr would
// refuse to read, or read otherwise, once stored. Its errors never contain
// the secret.
func (d TokenData) CheckStorable() error {
	if err := d.Token.Validate(); err != nil {
		return err
	}
	switch {
	case d.Username == "":
		return errors.New("token data has no username")
	case !NameFits(d.Username):
		return fmt.Errorf("username is longer than %d characters", MaxNameLength)
	case !NameFits(d.Service):
		return fmt.Errorf("service is longer than %d characters", MaxNameLength)
	case d.UID < 0 || d.GID < 0:
		// 0 is written as null; Gafaelfawr refuses anything else below 1.
		return errors.New("token data has a negative UID or GID")
	case !d.Type.Valid():
		return fmt.Errorf("token type %q is unknown", d.Type)
	case !storableTime(d.Created):
		return errors.New("creation time is beyond 2e10 seconds from 1970, which Gafaelfawr reads as milliseconds")
	case !d.Expires.IsZero() && !storableTime(d.Expires):
		return errors.New("expiry time is beyond 2e10 seconds from 1970, which Gafaelfawr reads as milliseconds")
	}
	for _, g := range d.Groups {
		if !ValidGroupName(g.Name) {
			return errors.New("token data has a group name Gafaelfawr does not accept")
		}
	}
	return nil
}

// NameFits reports whether s has at most MaxNameLength characters, counted
// as Python counts them: code points. No string of at most that many bytes
// has more, so the usual short name is not counted.
func NameFits(s string) bool {
	return len(s) <= MaxNameLength || utf8.RuneCountInString(s) <= MaxNameLength
}

// ValidGroupName reports whether s matches Gafaelfawr's GROUPNAME_REGEX,
// ^([a-zA-Z]|[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z])[a-zA-Z0-9._-]*$: ASCII
// letters, digits, '.', '_' and '-', starting with a letter or a digit and
// holding at least one letter. Pydantic's regular expressions are Rust's,
// whose $ matches only at the very end, so a trailing newline is refused.
func ValidGroupName(s string) bool {
	if s == "" || !isASCIIAlnum(s[0]) {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIILetter(c):
			letter = true
		case '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return letter
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }

// storableTime reports whether t, written as whole seconds, reads back as
// seconds and not as milliseconds.
func storableTime(t time.Time) bool {
	n := t.Unix()
	return -MaxUnixSeconds <= n && n <= MaxUnixSeconds
}
