package postgres

import (
	"errors"
	"net/url"
	"strings"

	"github.com/tokencache/tokencache/internal/urlsecret"
)

// errWithheld replaces an error about a connection string whose password
// could not be located, so it cannot be redacted: lib/pq and net/url quote
// the connection string, or any part of it, in some of their errors.
var errWithheld = errors.New("connection string is invalid (details withheld because they could quote its password: " +
	"a URL starts with postgres:// or postgresql://, separates user and password with a \":\" as it is (not %3A), " +
	"percent-encodes any /, ?, #, & or % in its credentials, and any ; or % in its query)")

// isURL reports whether lib/pq reads dsn as a URL; anything else it reads
// as key=value pairs.
func isURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// parseError is err, from lib/pq's parsing of dsn, as it may be shown.
// Parsing key=value pairs fails with messages that quote any part of dsn,
// which is safe only when it holds no password (no "password" key and no
// "@", as a URL mistyped as key=value would have); in a URL, only a
// password that is where net/url looks for it can be masked.
func parseError(err error, dsn string) error {
	if !isURL(dsn) {
		if strings.Contains(strings.ToLower(dsn), "password") || strings.Contains(dsn, "@") {
			return errWithheld
		}
		return err
	}
	return redact(err, dsn, "")
}

// redact returns err unchanged unless its message holds the password of
// dsn, or password, the one lib/pq found for it (from dsn or the
// environment; empty before dsn is parsed). Then it returns a new error
// with the password masked, which deliberately does not unwrap to err,
// since err's own message still holds the password. For a URL whose
// credentials are not where net/url looks for them, part of them may have
// been read as the host, port, database or an option, which the server's
// errors quote: then nothing of err is shown.
func redact(err error, dsn, password string) error {
	secrets := []string{password, url.QueryEscape(password), url.PathEscape(password)}
	if isURL(dsn) {
		if !urlsecret.Located(dsn) {
			return errWithheld
		}
		u, parseErr := url.Parse(dsn)
		if parseErr != nil {
			// url.Parse's error quotes the whole URL.
			return errWithheld
		}
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
		for _, p := range u.Query()["password"] {
			secrets = append(secrets, p, url.QueryEscape(p))
		}
	}
	msg := err.Error()
	redacted := msg
	for _, s := range secrets {
		if s != "" {
			redacted = strings.ReplaceAll(redacted, s, "xxxxx")
		}
	}
	if redacted == msg {
		return err
	}
	return errors.New(redacted)
}
