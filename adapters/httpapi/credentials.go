package httpapi

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokencache/tokencache/domain"
)

// stateCookieName is the name of Gafaelfawr's state cookie (COOKIE_NAME in
// constants.py), which holds a browser's session token.
const stateCookieName = "gafaelfawr"

// SessionCookies reads the session token out of Gafaelfawr's state cookie.
// adapters/statecookie implements it with the session secret. It must be
// safe for concurrent use.
type SessionCookies interface {
	// Token returns the session token held by the value of a state
	// cookie, or false if the value holds none: one not made with the
	// session secret, unreadable, or from a browser that is not logged in.
	Token(value string) (domain.Token, bool)
}

// tokenSource says where a request's token came from, which decides how a
// token unknown to the store is answered.
type tokenSource int

const (
	fromCookie tokenSource = iota + 1
	fromAuthorization
)

// credential finds the token a request presents, in the order of
// Gafaelfawr's Authenticate._find_token (dependencies/auth.py): the state
// cookie first, because an application behind the ingress may use the
// Authorization header for its own purposes, and then the Authorization
// header, as parse_authorization (auth.py) reads it:
//
//   - "Bearer <token>", the scheme in any case;
//   - "Basic <base64 of user:password>", with the token as the user or as
//     the password (the other part is anything, such as "x-oauth-basic");
//     a token in both must be the same token;
//   - any other scheme, no credential after the scheme, or a Basic
//     credential that does not decode is an invalid request.
//
// A cookie that holds no token is passed over, as is a Basic credential
// with no token in it; with nothing left, the request presented no
// credentials. Unlike Gafaelfawr, which reads only the first of several
// Authorization headers, several are refused: which one is meant is a
// guess, and the one a proxy added can differ from the one the client
// sent. When the cookie authenticates, the header is not read at all and
// so can be anything.
//
// No problem's message quotes what was sent, which could hold a secret.
func (h *delegateHandler) credential(r *http.Request, p delegateParams) (domain.Token, tokenSource, *problem) {
	if p.allowCookies && h.cookies != nil {
		if value, ok := stateCookie(r.Header); ok {
			if token, ok := h.cookies.Token(value); ok {
				return token, fromCookie, nil
			}
		}
	}
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		return domain.Token{}, 0, invalidRequest("Several Authorization headers: send one")
	}
	// An HTTP parser trims spaces and tabs around a value; what is left,
	// other white space included, is text str.split may cut into nothing.
	if len(headers) == 0 || strings.Trim(headers[0], " \t") == "" {
		return domain.Token{}, 0, noCredentials()
	}
	scheme, blob, ok := splitAuthorization(headers[0])
	if !ok {
		return domain.Token{}, 0, invalidRequest("Malformed Authorization header")
	}
	var candidate string
	// How Token.from_str will count its characters: a Bearer credential
	// is the header's latin-1 text, a Basic one was decoded as UTF-8.
	shaped := looksLikeToken
	switch {
	case isWord(scheme, "bearer"):
		candidate, shaped = blob, headerLooksLikeToken
	case isWord(scheme, "basic"):
		user, password, ok := basicCredentials(blob)
		if !ok {
			return domain.Token{}, 0, invalidRequest("Invalid Basic auth string")
		}
		switch {
		case looksLikeToken(user) && looksLikeToken(password) && user != password:
			return domain.Token{}, 0, invalidRequest("Conflicting tokens in Basic username and password fields")
		case looksLikeToken(user):
			candidate = user
		case looksLikeToken(password):
			candidate = password
		default:
			return domain.Token{}, 0, noCredentials()
		}
	default:
		return domain.Token{}, 0, invalidRequest("Unknown Authorization type")
	}
	token, err := domain.ParseToken(candidate)
	if err != nil {
		// Token.from_str's two messages; neither quotes the token. What
		// it takes (any 22 characters around the first ".") but is no
		// token here, Gafaelfawr looks up in vain.
		msg := "Token is malformed"
		switch {
		case !strings.HasPrefix(candidate, "gt-"):
			msg = "Token does not start with gt-"
		case shaped(candidate) && h.holdsSession(r):
			p := noCredentials() // as readParent answers a token not found
			p.cause = err
			return domain.Token{}, 0, p
		case shaped(candidate):
			msg = "Token is not valid"
		}
		p := invalidToken(msg, err)
		p.errorStatus = http.StatusUnauthorized
		return domain.Token{}, 0, p
	}
	return token, fromAuthorization, nil
}

// holdsSession reports whether r's state cookie holds a session token,
// whether or not allow_cookies let it authenticate the request. Gafaelfawr
// decodes the cookie on every request, and answers a token the store does
// not hold by it (Authenticate.authenticate): while the browser is logged
// in, with the bare challenge that sends it to log in again.
func (h *delegateHandler) holdsSession(r *http.Request) bool {
	if h.cookies == nil {
		return false
	}
	value, ok := stateCookie(r.Header)
	if !ok {
		return false
	}
	_, ok = h.cookies.Token(value)
	return ok
}

// stateCookie returns the value of the state cookie as Starlette, and so
// Gafaelfawr, reads it: from every Cookie header in turn, pairs split at
// ";" and trimmed, the last pair of that name winning, surrounding quotes
// removed.
func stateCookie(h http.Header) (string, bool) {
	var value string
	var found bool
	for _, header := range h.Values("Cookie") {
		for chunk := range strings.SplitSeq(header, ";") {
			name, v, ok := strings.Cut(chunk, "=")
			if !ok || stripHeaderSpace(name) != stateCookieName {
				continue
			}
			value, found = unquoteCookie(stripHeaderSpace(v)), true
		}
	}
	return value, found
}

// Starlette reads a header's value as latin-1, one character a byte, and
// Gafaelfawr's checks run on that text; these helpers read the bytes as
// those characters.

// isHeaderSpace is Python's str.isspace for a byte read as latin-1: ASCII
// white space, the information separators 1C to 1F, NEL (85) and the
// no-break space (A0).
func isHeaderSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0:
		return true
	}
	return false
}

// splitAuthorization splits an Authorization header's value into its
// scheme and the rest, as header.split(None, 1) does: white space before
// the scheme is skipped, a run of it ends the scheme, and the rest keeps
// any white space at its end (an HTTP parser has trimmed only spaces and
// tabs). Without a rest there is no credential.
func splitAuthorization(h string) (scheme, rest string, ok bool) {
	h = trimLeftHeaderSpace(h)
	for i := 0; i < len(h); i++ {
		if isHeaderSpace(h[i]) {
			rest = trimLeftHeaderSpace(h[i:])
			return h[:i], rest, rest != ""
		}
	}
	return h, "", false
}

// unquoteCookie is Python's http.cookies._unquote, which Starlette's cookie
// parser applies to each value: a value in double quotes loses them, and
// within them a backslash and three octal digits (the first 0 to 3) stand
// for that byte, and a backslash and any other character but a newline
// for that character.
func unquoteCookie(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	if !strings.Contains(v, `\`) {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c != '\\' || i+1 == len(v) || v[i+1] == '\n':
			out = append(out, c)
		case i+3 < len(v) && isOctal(v[i+1], '3') && isOctal(v[i+2], '7') && isOctal(v[i+3], '7'):
			out = append(out, (v[i+1]-'0')<<6|(v[i+2]-'0')<<3|(v[i+3]-'0'))
			i += 3
		default:
			out = append(out, v[i+1])
			i++
		}
	}
	return string(out)
}

// isOctal reports whether c is an octal digit no greater than highest.
func isOctal(c, highest byte) bool { return '0' <= c && c <= highest }

// stripHeaderSpace is str.strip of (part of) a header value, as
// Starlette's cookie parser strips names and values.
func stripHeaderSpace(s string) string {
	s = trimLeftHeaderSpace(s)
	for len(s) > 0 && isHeaderSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// trimLeftHeaderSpace drops the white space at the start of a header
// value.
func trimLeftHeaderSpace(s string) string {
	for len(s) > 0 && isHeaderSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// isWord reports whether s.lower() == word for a header value s and a
// lower-case ASCII word, as Gafaelfawr compares them: no latin-1 letter
// beyond ASCII lower-cases into ASCII, so only ASCII letters are folded
// (where Go's Unicode rules would also take U+0130 for "i" or U+017F for
// "s"). It copies nothing: it runs on every request.
func isWord(s, word string) bool {
	if len(s) != len(word) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// isPythonSpace is Python's str.isspace for one character: Unicode's white
// space, as unicode.IsSpace, and also the information separators U+001C
// to U+001F. It applies to text decoded as UTF-8, as a Basic credential is.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || '\x1c' <= r && r <= '\x1f'
}

// basicCredentials decodes a Basic credential into exactly one user and
// one password, as parse_authorization does: base64 read as leniently as
// Python's b64decode (see decodeBase64), UTF-8, white space trimmed as
// str.strip trims it, and exactly one colon.
func basicCredentials(blob string) (user, password string, ok bool) {
	raw, ok := decodeBase64(blob)
	if !ok || !utf8.Valid(raw) {
		return "", "", false
	}
	user, password, ok = strings.Cut(strings.TrimFunc(string(raw), isPythonSpace), ":")
	if !ok || strings.Contains(password, ":") {
		return "", "", false
	}
	return user, password, true
}

// decodeBase64 decodes standard base64 as Python's base64.b64decode does
// without validate in Gafaelfawr's runtime (Python 3.14.7, whose
// binascii.a2b_base64 follows RFC 4648 since gh-145264): a string that is
// not all ASCII is refused; characters outside the alphabet are skipped,
// and so is "=" wherever it is, but the data must end on a whole quantum
// or be completed by the "=" that follow its last character.
func decodeBase64(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s)*3/4)
	var quad, pads int // characters of the quantum so far; "=" since the last of them
	var left byte      // the bits of the quantum not yet written out
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return nil, false
		}
		if c == '=' {
			pads++
			continue
		}
		v, ok := base64Value(c)
		if !ok {
			continue
		}
		pads = 0
		switch quad {
		case 0:
			left = v
		case 1:
			out = append(out, left<<2|v>>4)
			left = v & 0x0f
		case 2:
			out = append(out, left<<4|v>>2)
			left = v & 0x03
		case 3:
			out = append(out, left<<6|v)
		}
		quad = (quad + 1) % 4
	}
	return out, quad == 0 || quad >= 2 && quad+pads >= 4
}

// base64Value is the value of c in the standard base64 alphabet.
func base64Value(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '+':
		return 62, true
	case c == '/':
		return 63, true
	}
	return 0, false
}

// looksLikeToken is Gafaelfawr's Token.is_token (models/token.py) for text
// decoded as UTF-8, as a Basic credential is: "gt-", then a key and a
// secret of 22 characters each around the first ".". It checks the form
// only, more loosely than domain.ParseToken, and decides which part of a
// Basic credential is the token and which credentials are removed before
// headers are passed on.
func looksLikeToken(s string) bool {
	return tokenShaped(s, utf8.RuneCountInString)
}

// headerLooksLikeToken is looksLikeToken for a header's own text, which
// Starlette reads as latin-1: a character is a byte, so "é" sent as UTF-8
// counts twice.
func headerLooksLikeToken(s string) bool {
	return tokenShaped(s, func(s string) int { return len(s) })
}

func tokenShaped(s string, length func(string) int) bool {
	rest, ok := strings.CutPrefix(s, "gt-")
	if !ok {
		return false
	}
	key, secret, ok := strings.Cut(rest, ".")
	return ok && length(key) == 22 && length(secret) == 22
}

// noCredentials is the 401 for a request that presented no token, or one
// whose session cookie names a token the store does not hold, as
// Gafaelfawr's generate_unauthorized_challenge answers without an error:
// a challenge with the realm only.
func noCredentials() *problem {
	return &problem{
		status: http.StatusUnauthorized, outcome: outcomeInvalidToken, kind: "no_authorization",
		msg: "Authentication required", challenge: bareChallenge, ajaxForbidden: true,
	}
}

// invalidRequest is the answer to credentials that cannot be read. RFC
// 6750 would have a 400, but behind nginx's auth_request only a 401 or a
// 403 reaches the client (any other status becomes a 500), and a 401
// would send a browser to log in, which cannot mend a malformed header.
// So, as Gafaelfawr's generate_challenge does for its InvalidRequestError,
// the status is 403 and the real one, 400, is in X-Error-Status.
func invalidRequest(msg string) *problem {
	return &problem{
		status: http.StatusForbidden, outcome: outcomeBadRequest, kind: "invalid_request", msg: msg,
		challenge: errorChallenge, errorStatus: http.StatusBadRequest,
	}
}

// invalidToken is the 401 for a token that cannot be used.
func invalidToken(msg string, cause error) *problem {
	return &problem{
		status: http.StatusUnauthorized, outcome: outcomeInvalidToken,
		kind: "invalid_token", msg: msg, cause: cause, challenge: errorChallenge,
	}
}
