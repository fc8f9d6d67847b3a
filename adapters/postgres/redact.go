package postgres

import (
	"errors"
	"net/url"
	"strings"
)

// errWithheld replaces an error about a connection string whose password
// could not be located, so it cannot be redacted: lib/pq and net/url quote
// the connection string in some of their errors.
var errWithheld = errors.New("connection string is invalid (details withheld because they could quote its password)")

// redact returns err unchanged unless its message holds the password of the
// connection string dsn. Then it returns a new error with the password
// masked, which deliberately does not unwrap to err, since err's own message
// still holds the password.
func redact(err error, dsn string) error {
	secrets, ok := passwords(dsn)
	if !ok {
		return errWithheld
	}
	msg := err.Error()
	redacted := msg
	for _, s := range secrets {
		redacted = strings.ReplaceAll(redacted, s, "xxxxx")
	}
	if redacted == msg {
		return err
	}
	return errors.New(redacted)
}

// passwords returns the forms in which dsn's password could appear in an
// error message. It reports false when dsn may hold a password that it
// cannot find.
func passwords(dsn string) ([]string, bool) {
	if !strings.Contains(dsn, "://") {
		// A key=value string: safe only when it holds no password at all.
		return nil, !strings.Contains(strings.ToLower(dsn), "password")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse's error quotes the whole URL.
		return nil, false
	}
	var secrets []string
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for _, p := range u.Query()["password"] {
		secrets = append(secrets, p, url.QueryEscape(p))
	}
	var nonEmpty []string
	for _, s := range secrets {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return nonEmpty, true
}
