package httpapi

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokencache/tokencache/domain"
)

// delegateParams are the query parameters of GET /auth/delegate, named and
// defaulted as in Gafaelfawr's /ingress/auth (handlers/ingress.py,
// auth_config and authenticate_with_type).
type delegateParams struct {
	notebook        bool          // notebook=true
	service         string        // delegate_to
	scopes          []string      // delegate_scope, before intersecting with the parent's
	minimumLifetime time.Duration // see effectiveMinimumLifetime
	// minimumLifetimeSeconds is minimum_lifetime as given, which may be
	// past what minimumLifetime holds; 0 when not given.
	minimumLifetimeSeconds int64
	required               []string   // scope, the scopes the parent must hold
	satisfyAny             bool       // satisfy=any: one of required is enough
	scheme                 authScheme // auth_type: the challenge's scheme
	useAuthorization       bool       // use_authorization=true
	allowCookies           bool       // allow_cookies, true unless false
	username               string     // username: only this user may pass
	onlyServices           []string   // only_service: only tokens of these services may pass
}

// delegating reports whether the request asks for a child at all; without
// notebook or delegate_to it is an authentication check only.
func (p delegateParams) delegating() bool { return p.notebook || p.service != "" }

// gafaelfawrMinimumLifetime is Gafaelfawr's MINIMUM_LIFETIME (constants.py):
// the least minimum_lifetime its ingress accepts, and the one it uses for a
// child when none is given.
const gafaelfawrMinimumLifetime = 5 * time.Minute

// maxLifetimeSeconds keeps seconds * time.Second from overflowing.
const maxLifetimeSeconds = math.MaxInt64 / int64(time.Second)

// maxTimedeltaSeconds is the longest lifetime Gafaelfawr reads, in whole
// seconds: Python's timedelta.max, 999,999,999 days and a day less a
// microsecond.
const maxTimedeltaSeconds = 999_999_999*24*60*60 + 24*60*60 - 1

// singleParams may be given at most once: a second value would be ignored
// by some readers and used by others.
var singleParams = []string{
	"notebook", "delegate_to", "minimum_lifetime", "satisfy", "auth_type",
	"use_authorization", "allow_cookies", "allow_options", "username", "user_domain", "service",
}

// parseDelegateParams reads the query. Every problem is a 422, as FastAPI
// and Gafaelfawr answer a parameter they cannot accept.
func parseDelegateParams(q url.Values) (delegateParams, *problem) {
	p := delegateParams{scheme: schemeBearer, allowCookies: true}
	for _, name := range singleParams {
		if len(q[name]) > 1 {
			return p, invalidParameter(name, "Parameter may be given only once")
		}
	}
	// allow_options only matters to OPTIONS requests, which are not
	// offered; its value is checked as Gafaelfawr checks it, then unused.
	var allowOptions bool
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"notebook", &p.notebook},
		{"use_authorization", &p.useAuthorization},
		{"allow_cookies", &p.allowCookies},
		{"allow_options", &allowOptions},
	} {
		if v, ok := lookup(q, b.name); ok {
			val, ok := parseBool(v)
			if !ok {
				return p, invalidParameter(b.name, "Value must be true or false")
			}
			*b.dst = val
		}
	}
	// An empty delegate_to is none, as in Gafaelfawr, whose checks test
	// its truth.
	service, _ := lookup(q, "delegate_to")
	hasService := service != ""
	if hasService {
		if !domain.VisibleName(service) {
			return p, invalidParameter("delegate_to",
				"Value must not hold control, format or invisible characters, nor begin or end with a space")
		}
		if utf8.RuneCountInString(service) > domain.MaxNameLength {
			return p, invalidParameter("delegate_to", "Value must be at most "+strconv.Itoa(domain.MaxNameLength)+" characters")
		}
	}
	p.service = service
	// The same for scope: "a,b" would be a single scope no token holds.
	// Refusing it says so, rather than denying every request.
	for _, s := range q["scope"] {
		if !domain.ValidScope(s) {
			return p, invalidParameter("scope", "Each scope must match ^[a-zA-Z0-9:._-]+$")
		}
		p.required = append(p.required, s)
	}
	if v, ok := lookup(q, "satisfy"); ok {
		switch v {
		case "all":
		case "any":
			p.satisfyAny = true
		default:
			return p, invalidParameter("satisfy", "Value must be all or any")
		}
	}
	if v, ok := lookup(q, "auth_type"); ok {
		switch v {
		case "bearer":
		case "basic":
			p.scheme = schemeBasic
		default:
			return p, invalidParameter("auth_type", "Value must be bearer or basic")
		}
	}
	if v, ok := lookup(q, "minimum_lifetime"); ok {
		seconds, ok := wholeSeconds(v)
		if !ok {
			return p, invalidParameter("minimum_lifetime", "Value must be a whole number of seconds")
		}
		// Past what a Duration holds, it is still a lifetime to Gafaelfawr
		// (up to a timedelta's 999,999,999 days), refused as too long:
		// kept as asked for the message, and as the longest Duration.
		p.minimumLifetimeSeconds = seconds
		p.minimumLifetime = time.Duration(min(seconds, maxLifetimeSeconds)) * time.Second
		if p.minimumLifetime < gafaelfawrMinimumLifetime {
			return p, invalidParameter("minimum_lifetime", "Value must be at least 300 seconds")
		}
	}
	p.username, _ = lookup(q, "username")
	p.onlyServices = q["only_service"]
	// user_domain needs the request's original URL and the base hostname,
	// which tokencache does not have; ignoring it would let every user
	// through an ingress meant for one.
	if v, ok := lookup(q, "user_domain"); ok {
		val, ok := parseBool(v)
		if !ok {
			return p, invalidParameter("user_domain", "Value must be true or false")
		}
		if val {
			return p, invalidParameter("user_domain", "user_domain is not supported")
		}
	}
	if p.notebook && hasService {
		return p, &problem{
			status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
			kind: "invalid_delegate_to", msg: "delegate_to cannot be set for notebook tokens",
			loc: []string{"query", "delegate_to"},
		}
	}
	// Gafaelfawr's service names the ingress's service for its rate
	// limits and metrics, which tokencache does not offer: it is ignored,
	// but refused, as Gafaelfawr refuses it, when it names another service
	// than delegate_to.
	if other, _ := lookup(q, "service"); other != "" && hasService && other != service {
		return p, &problem{
			status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
			kind: "invalid_service", msg: "service must be the same as delegate_to",
			loc: []string{"query", "delegate_to"},
		}
	}
	// delegate_scope without delegate_to is ignored, whatever it holds, as
	// Gafaelfawr ignores it: only its delegate_to branch reads the scopes.
	if hasService {
		if problem := p.readDelegateScopes(q["delegate_scope"]); problem != nil {
			return p, problem
		}
	}
	if p.delegating() && p.minimumLifetime == 0 {
		p.minimumLifetime = gafaelfawrMinimumLifetime
	}
	return p, nil
}

// readDelegateScopes reads the scopes of an internal child. Each value is
// one scope, untrimmed, as Gafaelfawr reads it since 12.4.0: "a,b" is a
// single scope no parent holds, for which it makes (and then reuses) a
// child without it. Splitting it would make another child; refusing it
// says what is wrong. An empty value adds nothing, there as here.
func (p *delegateParams) readDelegateScopes(values []string) *problem {
	for _, s := range values {
		switch {
		case s == "":
		case strings.Contains(s, ","):
			return invalidParameter("delegate_scope", "Each value must be one scope: repeat delegate_scope for several")
		case !domain.ValidScope(s):
			return invalidParameter("delegate_scope", "Each scope must match ^[a-zA-Z0-9:._-]+$")
		default:
			p.scopes = append(p.scopes, s)
		}
	}
	return nil
}

// lookup returns the parameter's value and whether it was given at all.
func lookup(q url.Values, name string) (string, bool) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// parseBool accepts the words pydantic accepts for a boolean, in any case,
// so that a query Gafaelfawr takes is taken here too.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true, true
	case "0", "off", "f", "false", "n", "no":
		return false, true
	}
	return false, false
}

func invalidParameter(name, msg string) *problem {
	return &problem{
		status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
		kind: "invalid_parameter", msg: msg, loc: []string{"query", name},
	}
}

// wholeSeconds reads a number of seconds as Gafaelfawr does (safir's
// SecondsTimedelta, which calls Python's float()): white space around it,
// a sign, digits grouped by single underscores, a decimal point and an
// exponent. It takes only whole numbers from 0 to maxTimedeltaSeconds, and
// only ASCII digits (Python's float() takes any Unicode decimal digit).
func wholeSeconds(v string) (int64, bool) {
	// float() skips white space, though not the separators 1C to 1F that
	// str.isspace counts.
	v = strings.TrimFunc(v, unicode.IsSpace)
	if !isPythonFloat(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64)
	if err != nil || f < 0 || f > maxTimedeltaSeconds || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}

// isPythonFloat reports whether s is a finite number in the syntax of
// Python's float(): [sign] (digits [. [digits]] | . digits) [e [sign] digits],
// where digits may be grouped by single underscores.
func isPythonFloat(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	mantissa, exponent, hasExponent := strings.Cut(strings.ToLower(s), "e")
	whole, fraction, hasPoint := strings.Cut(mantissa, ".")
	switch {
	case whole == "" && fraction == "",
		whole != "" && !isDigitGroups(whole),
		fraction != "" && !isDigitGroups(fraction),
		!hasPoint && whole == "":
		return false
	}
	if !hasExponent {
		return true
	}
	if exponent != "" && (exponent[0] == '+' || exponent[0] == '-') {
		exponent = exponent[1:]
	}
	return isDigitGroups(exponent)
}

// isDigitGroups reports whether s is ASCII digits, single underscores
// allowed between two of them.
func isDigitGroups(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch {
		case '0' <= s[i] && s[i] <= '9':
		case s[i] == '_' && i > 0 && i < len(s)-1 && s[i-1] != '_' && s[i+1] != '_':
		default:
			return false
		}
	}
	return true
}
