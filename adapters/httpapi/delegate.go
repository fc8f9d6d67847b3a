package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// delegateHandler serves GET /auth/delegate.
type delegateHandler struct {
	issuer        ChildIssuer
	parents       ParentStore
	cookies       SessionCookies // nil: cookies are not read
	trusted       []netip.Prefix
	allowed       []string // empty: any service
	tokenLifetime time.Duration
	clock         ports.Clock
	metrics       *Metrics
	logger        *slog.Logger
	workers       *workers // nil: a new goroutine for each request
}

// delegation is what a successful request hands out.
type delegation struct {
	parent domain.TokenData
	child  domain.Token // zero for an authentication check
	params delegateParams
}

func (h *delegateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Until delegate returns, the outcome is a panic, which recoverPanics
	// answers with a 500: count it as such.
	out := outcomeInternal
	defer func() { h.metrics.observeRequest(out, time.Since(start)) }()
	d, p := h.delegateBy(r)
	out = outcomeOK
	if p != nil {
		out = p.outcome
	}
	info := requestInfoFrom(r.Context())
	info.outcome = out
	info.username = d.parent.Username
	if p != nil {
		info.err = p.cause
		p.write(w)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Auth-Request-User", d.parent.Username)
	if d.parent.Email != "" {
		hdr.Set("X-Auth-Request-Email", d.parent.Email)
	}
	if d.parent.Service != "" {
		hdr.Set("X-Auth-Request-Service", d.parent.Service)
	}
	var child string
	if d.params.delegating() {
		child = d.child.String()
		hdr.Set("X-Auth-Request-Token", child)
	}
	reflectHeaders(hdr, r.Header, d.params.useAuthorization, child)
	writeOK(w)
}

// delegate reads the query, then does the work, and gives any challenge
// the scheme auth_type asked for.
func (h *delegateHandler) delegate(r *http.Request) (delegation, *problem) {
	q, p := parseQuery(r.URL.RawQuery)
	if p != nil {
		return delegation{}, p
	}
	params, p := parseDelegateParams(q)
	if p != nil {
		return delegation{}, p
	}
	d, p := h.authorize(r, params)
	if p != nil {
		p.scheme = params.scheme
		if p.ajaxForbidden && isWord(r.Header.Get("X-Requested-With"), "xmlhttprequest") {
			p.status = http.StatusForbidden
		}
	}
	return d, p
}

// authorize checks everything that needs no I/O (the service, the
// credentials, the client address, the minimum lifetime against the token
// lifetime), then looks up the parent and checks it as Gafaelfawr's
// get_auth does, in its order: remaining lifetime, then scopes. Only then
// does it ask the issuer for a child, if one was asked for.
func (h *delegateHandler) authorize(r *http.Request, params delegateParams) (delegation, *problem) {
	d := delegation{params: params}
	if params.service != "" && len(h.allowed) > 0 && !slices.Contains(h.allowed, params.service) {
		return d, &problem{
			status: http.StatusForbidden, outcome: outcomeForbidden, kind: "permission_denied",
			msg: "Delegation to this service is not allowed", loc: []string{"query", "delegate_to"},
		}
	}
	token, source, p := h.credential(r, params)
	if p != nil {
		return d, p
	}
	var ip string
	if params.delegating() {
		var err error
		if ip, err = clientIP(r, h.trusted); err != nil {
			return d, &problem{status: http.StatusInternalServerError, outcome: outcomeInternal,
				kind: "internal_error", msg: "Cannot determine the client address", cause: err}
		}
	}
	if p := h.checkMaximumLifetime(params.minimumLifetimeSeconds); p != nil {
		return d, p
	}

	ctx := r.Context()
	parent, err := h.parents.Get(ctx, token)
	switch {
	case errors.Is(err, ports.ErrNotFound) && source == fromCookie:
		// Gafaelfawr does not fall back to the header here: the browser
		// must log in again.
		p := noCredentials()
		p.cause = err
		return d, p
	case errors.Is(err, ports.ErrNotFound):
		p := invalidToken("Token is not valid", err)
		p.errorStatus = http.StatusUnauthorized
		return d, p
	case err != nil:
		// The service counts its own store failures; this lookup is the
		// handler's, and when Redis is down it is the one that fails.
		if ctx.Err() == nil {
			h.metrics.StoreError("token_store.get_parent")
		}
		return d, failure(r, err)
	}
	d.parent = parent
	requestInfoFrom(ctx).setRequest(params)

	if p := h.checkRemainingLifetime(parent, params.minimumLifetime); p != nil {
		return d, p
	}
	if p := checkScopes(parent.Scopes, params); p != nil {
		return d, p
	}
	if p := checkUser(parent, params); p != nil {
		return d, p
	}

	switch {
	case params.notebook:
		d.child, err = h.issuer.GetNotebookToken(ctx, parent, ip, params.minimumLifetime)
	case params.service != "":
		scopes := intersect(params.scopes, parent.Scopes)
		d.child, err = h.issuer.GetInternalToken(ctx, parent, params.service, scopes, ip, params.minimumLifetime)
	}
	switch {
	case errors.Is(err, domain.ErrParentNotRecorded):
		return d, parentNotRecorded(params.notebook, err)
	case err != nil:
		return d, failure(r, err)
	}
	return d, nil
}

// parentNotRecorded is the answer for a parent the token store holds but
// the repository does not, with Gafaelfawr's message: its token cache
// meets an IntegrityError writing the child's row.
func parentNotRecorded(notebook bool, err error) *problem {
	kind := "internal"
	if notebook {
		kind = "notebook"
	}
	p := invalidToken("Integrity error creating "+kind+" token", err)
	p.errorStatus = http.StatusUnauthorized
	return p
}

// intersect returns the requested scopes the parent holds: a delegated
// token gets no more than its parent has, and asking for more is not an
// error, as in Gafaelfawr's ingress.
func intersect(requested, held []string) []string {
	out := []string{}
	for _, s := range requested {
		if slices.Contains(held, s) {
			out = append(out, s)
		}
	}
	return out
}

// failure maps an error from the store or the issuer to a response. Only
// the messages of invalid requests reach the client: they say what was
// wrong with the request and, by the service's contract, hold no secret.
// Everything else is described generically.
func failure(r *http.Request, err error) *problem {
	switch {
	case errors.Is(err, domain.ErrInvalidToken):
		p := invalidToken("Token is invalid or expired", err)
		p.errorStatus = http.StatusUnauthorized
		return p
	case errors.Is(err, domain.ErrInsufficientLifetime):
		return lifetimeTooShort(err)
	case errors.Is(err, domain.ErrPermissionDenied):
		return &problem{status: http.StatusForbidden, outcome: outcomeForbidden,
			kind: "insufficient_scope", msg: "Token does not have the requested scopes", cause: err,
			challenge: errorChallenge, errorStatus: http.StatusForbidden}
	case errors.Is(err, domain.ErrInvalidRequest):
		return &problem{status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
			kind: "invalid_parameter", msg: err.Error(), cause: err}
	case errors.Is(err, domain.ErrTooManyChildren):
		return tooManyChildren(err)
	}
	p := &problem{status: http.StatusServiceUnavailable, outcome: outcomeUnavailable,
		kind: "unavailable", msg: "Token store unavailable, try again later", cause: err}
	switch {
	case r.Context().Err() != nil && errors.Is(context.Cause(r.Context()), errRequestTimeout):
		p.outcome, p.msg = outcomeTimeout, "Request timed out, try again later"
	case r.Context().Err() != nil:
		p.outcome = outcomeCanceled
	}
	return p
}
