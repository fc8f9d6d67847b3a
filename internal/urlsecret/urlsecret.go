// Package urlsecret tells whether the password in a store's URL is where
// the URL's parsers will look for it. Where it is not, a parser's error
// message can quote it, whole or in part: such a message must not be shown.
package urlsecret

import (
	"net/url"
	"strings"
)

// Located reports whether the credentials of rawURL, if it has any, are
// where a parser finds them: between "//" and the last "@" before the
// host, with no "/", "?" or "#" among them (the parser would end the host
// there and take the rest as the port, path or query) and no "%" that
// escapes nothing. A URL whose scheme is not followed by "//" but which
// holds an "@" has its credentials taken as a path: they are not located
// either. So is a password= option followed by another option, since an
// unescaped "&" in the password splits it there and the rest becomes an
// option's name. Nor are credentials whose user name holds an escaped ":"
// ("user%3Apw@"): the parser takes the whole for the user name, which a
// server's refusal quotes, and finds no password to hide. Nor is a query
// that net/url cannot read (a ";", a "%" that escapes nothing): it drops
// what it cannot read, a password= option perhaps, so that option is not
// found to be masked, and a driver may read it otherwise.
func Located(rawURL string) bool {
	info, ok := userInfo(rawURL)
	if !ok {
		return false
	}
	if _, err := url.PathUnescape(info); err != nil || strings.ContainsAny(info, "/?#") {
		return false
	}
	name, _, _ := strings.Cut(info, ":") // the user name, as written
	if unescaped, _ := url.PathUnescape(name); strings.Contains(unescaped, ":") {
		return false
	}
	if u, err := url.Parse(rawURL); err == nil && u.RawQuery != "" {
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return false
		}
	}
	return !passwordOptionSplit(rawURL)
}

// userInfo is the text between rawURL's "//" and its last "@", which holds
// its credentials if it has any, whether or not it parses. It reports
// false when rawURL holds an "@" but no "//" after its scheme.
func userInfo(rawURL string) (string, bool) {
	_, rest, hasScheme := strings.Cut(rawURL, ":")
	if !hasScheme {
		rest = rawURL
	}
	rest, authority := strings.CutPrefix(rest, "//")
	at := strings.LastIndex(rest, "@")
	switch {
	case at < 0:
		return "", true
	case !authority:
		return "", false
	}
	return rest[:at], true
}

// passwordOptionSplit reports whether rawURL has a password= option with
// another option after it.
func passwordOptionSplit(rawURL string) bool {
	for rest := rawURL; ; {
		_, after, ok := strings.Cut(rest, "password=")
		if !ok {
			return false
		}
		if strings.Contains(after, "&") {
			return true
		}
		rest = after
	}
}
