package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"time"
	"unicode/utf8"

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
	workers       *workers      // nil: a new goroutine for each request
	timeout       time.Duration // bounds the work handed to a worker

	// Reads from process memory, served without a worker; nil when the
	// store or the issuer has none.
	localParents ports.LocalTokenReader
	localIssuer  LocalIssuer
}

// newDelegateHandler is the handler of GET /auth/delegate for cfg, whose
// defaults NewHandler has set.
func newDelegateHandler(cfg Config) *delegateHandler {
	localParents, _ := cfg.Parents.(ports.LocalTokenReader)
	localIssuer, _ := cfg.Issuer.(LocalIssuer)
	return &delegateHandler{
		issuer: cfg.Issuer, parents: cfg.Parents, cookies: cfg.Cookies,
		trusted: unmapPrefixes(cfg.TrustedProxies), allowed: cfg.AllowedServices,
		tokenLifetime: cfg.TokenLifetime, clock: cfg.Clock, metrics: cfg.Metrics,
		logger: cfg.Logger, workers: newWorkers(), timeout: cfg.RequestTimeout,
		localParents: localParents, localIssuer: localIssuer,
	}
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
	d, p := h.delegate(r)
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
	hdr.Set("X-Auth-Request-User", latin1(d.parent.Username))
	if d.parent.Email != "" {
		hdr.Set("X-Auth-Request-Email", latin1(d.parent.Email))
	}
	if d.parent.Service != "" {
		hdr.Set("X-Auth-Request-Service", latin1(d.parent.Service))
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

// claim is what a request presents and asks for, as checked without I/O,
// and its parent once looked up.
type claim struct {
	params delegateParams
	token  domain.Token
	source tokenSource
	ip     string            // the client's address, when a child is asked for
	parent *domain.TokenData // nil until looked up
}

// authorize checks everything that needs no I/O (the service, the
// credentials, the client address, the minimum lifetime against the token
// lifetime), then looks up the parent and checks it as Gafaelfawr's
// get_auth does, in its order: remaining lifetime, then scopes. Only then
// does it ask the issuer for a child, if one was asked for. What process
// memory holds is served here, on the request's goroutine; from the first
// step that needs a store on, the work runs on a worker (delegateBy), so
// that the answer comes by the request's deadline.
func (h *delegateHandler) authorize(r *http.Request, params delegateParams) (delegation, *problem) {
	c := &claim{params: params}
	if p := h.checkRequest(r, c); p != nil {
		return delegation{params: params}, p
	}
	if d, p, ok := h.authorizeLocally(r.Context(), c); ok {
		return d, p
	}
	return h.delegateBy(r, c)
}

// checkRequest makes authorize's checks that need no I/O, and fills in c's
// token, its source and the client's address.
func (h *delegateHandler) checkRequest(r *http.Request, c *claim) *problem {
	params := c.params
	if params.service != "" && len(h.allowed) > 0 && !slices.Contains(h.allowed, params.service) {
		return &problem{
			status: http.StatusForbidden, outcome: outcomeForbidden, kind: "permission_denied",
			msg: "Delegation to this service is not allowed", loc: []string{"query", "delegate_to"},
		}
	}
	var p *problem
	if c.token, c.source, p = h.credential(r, params); p != nil {
		return p
	}
	if params.delegating() {
		var err error
		if c.ip, err = clientIP(r, h.trusted); err != nil {
			return &problem{status: http.StatusInternalServerError, outcome: outcomeInternal,
				kind: "internal_error", msg: "Cannot determine the client address", cause: err}
		}
	}
	return h.checkMaximumLifetime(params.minimumLifetimeSeconds)
}

// authorizeLocally finishes authorize from process memory, and reports
// false at the first step that needs I/O: the parent, then the child, if
// one is asked for. A parent it read is kept in c for the worker.
func (h *delegateHandler) authorizeLocally(ctx context.Context, c *claim) (delegation, *problem, bool) {
	if h.localParents == nil {
		return delegation{}, nil, false
	}
	parent, ok := h.localParents.GetLocal(ctx, c.token)
	if !ok {
		return delegation{}, nil, false
	}
	c.parent = &parent
	d, p := h.checkParent(c.params, &parent)
	if p == nil && c.params.delegating() {
		if h.localIssuer == nil {
			return delegation{}, nil, false
		}
		if d.child, ok = h.issueLocally(ctx, c); !ok {
			return delegation{}, nil, false
		}
	}
	requestInfoFrom(ctx).setRequest(c.params)
	return d, p, true
}

// issueLocally asks the issuer for the child c asks for, from process
// memory.
func (h *delegateHandler) issueLocally(ctx context.Context, c *claim) (domain.Token, bool) {
	params := c.params
	if params.notebook {
		return h.localIssuer.LocalNotebookToken(ctx, *c.parent, c.ip, params.minimumLifetime)
	}
	scopes := intersect(params.scopes, c.parent.Scopes)
	return h.localIssuer.LocalInternalToken(ctx, *c.parent, params.service, scopes, c.ip, params.minimumLifetime)
}

// lookUp is what authorize leaves to a worker: the parent's look-up,
// unless c holds it already, its checks and the child.
func (h *delegateHandler) lookUp(r *http.Request, c *claim) (delegation, *problem) {
	params := c.params
	parent := c.parent
	if parent == nil {
		data, p := h.readParent(r, c)
		if p != nil {
			return delegation{params: params}, p
		}
		parent = &data
	}
	ctx := r.Context()
	requestInfoFrom(ctx).setRequest(params)
	d, p := h.checkParent(params, parent)
	if p != nil || !params.delegating() {
		return d, p
	}

	var err error
	switch {
	case params.notebook:
		d.child, err = h.issuer.GetNotebookToken(ctx, *parent, c.ip, params.minimumLifetime)
	default:
		scopes := intersect(params.scopes, parent.Scopes)
		d.child, err = h.issuer.GetInternalToken(ctx, *parent, params.service, scopes, c.ip, params.minimumLifetime)
	}
	switch {
	case errors.Is(err, domain.ErrParentNotRecorded):
		return d, parentNotRecorded(params.notebook, err)
	case err != nil:
		return d, failure(r, err)
	}
	return d, nil
}

// readParent looks up the parent c presents in the store.
func (h *delegateHandler) readParent(r *http.Request, c *claim) (domain.TokenData, *problem) {
	ctx := r.Context()
	parent, err := h.parents.Get(ctx, c.token)
	switch {
	case errors.Is(err, ports.ErrNotFound) && (c.source == fromCookie || h.holdsSession(r)):
		// Gafaelfawr does not fall back to the header here: the browser
		// must log in again. So too for a header token while the cookie,
		// set aside by allow_cookies=false, holds a session.
		p := noCredentials()
		p.cause = err
		return parent, p
	case errors.Is(err, ports.ErrNotFound):
		p := invalidToken("Token is not valid", err)
		p.errorStatus = http.StatusUnauthorized
		return parent, p
	case err != nil:
		// The service counts its own store failures; this lookup is the
		// handler's, and when Redis is down it is the one that fails.
		if ctx.Err() == nil {
			h.metrics.StoreError("token_store.get_parent")
		}
		return parent, failure(r, err)
	}
	return parent, nil
}

// checkParent checks parent against the request, with no I/O.
func (h *delegateHandler) checkParent(params delegateParams, parent *domain.TokenData) (delegation, *problem) {
	d := delegation{parent: *parent, params: params}
	if p := h.checkRemainingLifetime(*parent, params.minimumLifetime); p != nil {
		return d, p
	}
	if p := checkScopes(parent.Scopes, params); p != nil {
		return d, p
	}
	return d, checkUser(*parent, params)
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

// latin1 is s as Starlette writes a header's value, and so as an
// application behind Gafaelfawr reads it back: one byte a character, in
// latin-1. Text with a character beyond latin-1, which Starlette cannot
// write (Gafaelfawr answers 500), goes as it is, in UTF-8.
func latin1(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s[:i])
	for _, r := range s[i:] {
		if r > 0xff { // utf8.RuneError included
			return s
		}
		b = append(b, byte(r))
	}
	return string(b)
}
