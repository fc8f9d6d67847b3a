package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// delegateHandler serves GET /auth/delegate.
type delegateHandler struct {
	issuer  ChildIssuer
	parents ParentStore
	metrics *Metrics
}

// delegation is what a successful request hands out.
type delegation struct {
	username string
	child    domain.Token
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
	info.username = d.username
	if p != nil {
		info.err = p.cause
		p.write(w)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Auth-Request-Token", d.child.String())
	hdr.Set("X-Auth-Request-User", d.username)
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// delegate does the work: it checks the request's shape before any I/O
// (the bearer token's syntax, then the parameters), then looks up the
// parent and asks the issuer for the child. The username is filled in as
// soon as it is known, for the log.
func (h *delegateHandler) delegate(r *http.Request) (delegation, *problem) {
	var d delegation
	token, p := bearerToken(r)
	if p != nil {
		return d, p
	}
	params, p := parseDelegateParams(r.URL.Query())
	if p != nil {
		return d, p
	}
	ip, err := clientIP(r)
	if err != nil {
		return d, &problem{status: http.StatusInternalServerError, outcome: outcomeInternal,
			kind: "internal_error", msg: "Cannot determine the client address", cause: err}
	}

	ctx := r.Context()
	parent, err := h.parents.Get(ctx, token)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return d, invalidToken("Token is unknown or expired", err)
	case err != nil:
		// The service counts its own store failures; this lookup is the
		// handler's, and when Redis is down it is the one that fails.
		if ctx.Err() == nil {
			h.metrics.StoreError("token_store.get_parent")
		}
		return d, failure(r, err)
	}
	d.username = parent.Username
	requestInfoFrom(ctx).setRequest(params)

	if params.notebook {
		d.child, err = h.issuer.GetNotebookToken(ctx, parent, ip, params.minimumLifetime)
	} else {
		scopes := intersect(params.scopes, parent.Scopes)
		d.child, err = h.issuer.GetInternalToken(ctx, parent, params.service, scopes, ip, params.minimumLifetime)
	}
	if err != nil {
		return d, failure(r, err)
	}
	return d, nil
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
		return invalidToken("Token is invalid or expired", err)
	case errors.Is(err, domain.ErrInsufficientLifetime):
		return invalidToken("Token expires before the requested minimum lifetime", err)
	case errors.Is(err, domain.ErrPermissionDenied):
		return &problem{status: http.StatusForbidden, outcome: outcomeForbidden,
			kind: "insufficient_scope", msg: "Token does not have the requested scopes", cause: err}
	case errors.Is(err, domain.ErrInvalidRequest):
		return &problem{status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
			kind: "invalid_parameter", msg: err.Error(), cause: err}
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
