package httpapi

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// delegateParams are the query parameters of GET /auth/delegate, named as
// in Gafaelfawr's /ingress/auth.
type delegateParams struct {
	notebook        bool          // notebook=true
	service         string        // delegate_to
	scopes          []string      // delegate_scope, before intersecting with the parent's
	minimumLifetime time.Duration // minimum_lifetime in seconds; 0: not set
}

// maxLifetimeSeconds keeps seconds * time.Second from overflowing.
const maxLifetimeSeconds = math.MaxInt64 / int64(time.Second)

// parseDelegateParams reads the query. A value that does not parse is a
// 422; a valid but contradictory or incomplete combination is a 400.
func parseDelegateParams(q url.Values) (delegateParams, *problem) {
	var p delegateParams
	for _, name := range []string{"notebook", "delegate_to", "minimum_lifetime"} {
		if len(q[name]) > 1 {
			return p, invalidParameter(name, "Parameter may be given only once")
		}
	}
	if v, ok := lookup(q, "notebook"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, invalidParameter("notebook", "Value must be true or false")
		}
		p.notebook = b
	}
	service, hasService := lookup(q, "delegate_to")
	if hasService && service == "" {
		return p, invalidParameter("delegate_to", "Value must not be empty")
	}
	p.service = service
	for _, v := range q["delegate_scope"] {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !domain.ValidScope(s) {
				return p, invalidParameter("delegate_scope", "Each scope must match ^[a-zA-Z0-9:._-]+$")
			}
			p.scopes = append(p.scopes, s)
		}
	}
	if v, ok := lookup(q, "minimum_lifetime"); ok {
		seconds, err := strconv.ParseInt(v, 10, 64)
		if err != nil || seconds < 0 || seconds > maxLifetimeSeconds {
			return p, invalidParameter("minimum_lifetime", "Value must be a non-negative whole number of seconds")
		}
		p.minimumLifetime = time.Duration(seconds) * time.Second
	}

	switch {
	case p.notebook && hasService:
		return p, badRequest("notebook=true and delegate_to cannot be used together")
	case !p.notebook && !hasService:
		return p, badRequest("One of notebook=true or delegate_to is required")
	case !hasService && len(q["delegate_scope"]) > 0:
		return p, badRequest("delegate_scope is only valid with delegate_to")
	}
	return p, nil
}

// lookup returns the parameter's value and whether it was given at all.
func lookup(q url.Values, name string) (string, bool) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func invalidParameter(name, msg string) *problem {
	return &problem{
		status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
		kind: "invalid_parameter", msg: msg, loc: []string{"query", name},
	}
}

func badRequest(msg string) *problem {
	return &problem{status: http.StatusBadRequest, outcome: outcomeBadRequest, kind: "bad_request", msg: msg}
}
