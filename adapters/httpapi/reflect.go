package httpapi

import (
	"net/http"
	"strings"
)

// reflectHeaders adds to a successful answer the request's Authorization
// and Cookie headers with Gafaelfawr's own credentials taken out, as
// build_success_headers (handlers/ingress.py) does, so that nginx can put
// them in place of the originals in the request it passes on: the
// application behind the ingress then sees its own credentials but never
// the user's session or token. With use_authorization, Authorization is
// instead the delegated token as a bearer token, and is left out when
// there is none.
func reflectHeaders(dst, src http.Header, useAuthorization bool, child string) {
	if useAuthorization {
		if child != "" {
			dst.Set("Authorization", "Bearer "+child)
		}
	} else {
		for _, v := range src.Values("Authorization") {
			if !carriesToken(v) {
				dst.Add("Authorization", v)
			}
		}
	}
	for _, v := range src.Values("Cookie") {
		if kept := withoutStateCookie(v); kept != "" {
			dst.Add("Cookie", kept)
		}
	}
}

// carriesToken reports whether an Authorization header holds a Gafaelfawr
// token, by the rule of clean_authorization (auth.py): a Bearer credential
// that looks like a token, or a Basic one with a token among its
// colon-separated parts. Headers of other schemes, and those that cannot
// be read, belong to the application and are kept. Where Gafaelfawr looks
// for a literal space after the scheme, any white space is taken here, as
// when the token is read, so that "Bearer<TAB><token>" cannot both
// authenticate and be passed on; white space is trimmed exactly as when
// the token is read (splitAuthorization), for the same reason.
func carriesToken(header string) bool {
	scheme, blob, ok := splitAuthorization(header)
	if !ok {
		return false
	}
	switch {
	case isWord(scheme, "bearer"):
		return headerLooksLikeToken(blob)
	case isWord(scheme, "basic"):
		raw, ok := decodeBase64(blob)
		if !ok {
			return false
		}
		for part := range strings.SplitSeq(strings.TrimFunc(string(raw), isPythonSpace), ":") {
			if looksLikeToken(part) {
				return true
			}
		}
	}
	return false
}

// withoutStateCookie removes the state cookie from a Cookie header, as
// clean_cookies (auth.py) does, and returns what is left ("" for nothing).
// Gafaelfawr splits only at "; "; here any ";" separates, with the space
// around it trimmed, so that "a=1;gafaelfawr=..." loses the state cookie
// too. The other cookies are kept as they came, joined with "; ".
func withoutStateCookie(header string) string {
	var kept []string
	for c := range strings.SplitSeq(header, ";") {
		// Kept as they came but for the spaces and tabs around them: a
		// byte that is white space in latin-1 may end a UTF-8 character
		// of an application's cookie ("à" is C3 A0).
		c = strings.Trim(c, " \t")
		if c == "" {
			continue
		}
		if name, _, ok := strings.Cut(c, "="); ok && stripHeaderSpace(name) == stateCookieName {
			continue
		}
		kept = append(kept, c)
	}
	return strings.Join(kept, "; ")
}
