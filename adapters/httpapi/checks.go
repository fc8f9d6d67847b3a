package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// checkMaximumLifetime refuses a minimum lifetime that no child could
// meet, as Gafaelfawr's check_lifetime (handlers/ingress.py) does with its
// InvalidMinimumLifetimeError: one longer than the token lifetime less
// MINIMUM_LIFETIME. Without a token lifetime it leaves that to the issuer,
// but for a lifetime longer than any Duration, which no token has.
// The request's minimum is in whole seconds, as given (see
// delegateParams.minimumLifetimeSeconds).
func (h *delegateHandler) checkMaximumLifetime(seconds int64) *problem {
	if h.tokenLifetime == 0 {
		if seconds <= maxLifetimeSeconds {
			return nil // the issuer checks
		}
		return &problem{
			status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
			kind: "invalid_minimum_lifetime", loc: []string{"query", "minimum_lifetime"},
			msg: fmt.Sprintf("Requested lifetime %ds longer than any token lives", seconds),
		}
	}
	limit := int64((h.tokenLifetime - domain.MinimumLifetime) / time.Second)
	if seconds <= limit {
		return nil
	}
	return &problem{
		status: http.StatusUnprocessableEntity, outcome: outcomeInvalidParameter,
		kind: "invalid_minimum_lifetime", loc: []string{"query", "minimum_lifetime"},
		msg: fmt.Sprintf("Requested lifetime %ds longer than maximum lifetime %ds", seconds, limit),
	}
}

// checkRemainingLifetime refuses a parent that expires within the minimum
// lifetime, also when no child is asked for, as check_lifetime does. The
// parent's expiry is taken in whole seconds, as the service takes it for
// a child's cap, and so is now, as Gafaelfawr and the service take it, so
// that the three agree on every parent.
func (h *delegateHandler) checkRemainingLifetime(parent domain.TokenData, minimum time.Duration) *problem {
	if minimum == 0 || parent.Expires.IsZero() {
		return nil
	}
	left := parent.Expires.UTC().Truncate(time.Second).Sub(h.clock.Now().UTC().Truncate(time.Second))
	if left >= minimum {
		return nil
	}
	return lifetimeTooShort(fmt.Errorf("parent token expires in %v, before the minimum lifetime %v",
		left.Truncate(time.Second), minimum))
}

// lifetimeTooShort is Gafaelfawr's answer to a token that will not live
// long enough: a 401 invalid_token challenge, without X-Error-Status
// (generate_unauthorized_challenge).
func lifetimeTooShort(cause error) *problem {
	p := invalidToken("Remaining token lifetime too short", cause)
	p.ajaxForbidden = true
	return p
}

// checkScopes refuses a parent without the required scopes: all of them,
// or with satisfy=any one of them, as get_auth decides. As there, any
// with no scope= at all is never satisfied: a misconfigured ingress fails
// closed. The challenge names the required scopes.
func checkScopes(held []string, p delegateParams) *problem {
	has := func(s string) bool { return slices.Contains(held, s) }
	ok := !slices.ContainsFunc(p.required, func(s string) bool { return !has(s) })
	if p.satisfyAny {
		ok = slices.ContainsFunc(p.required, has)
	}
	if ok {
		return nil
	}
	return &problem{
		status: http.StatusForbidden, outcome: outcomeForbidden, kind: "insufficient_scope",
		msg: "Token missing required scope", challenge: errorChallenge, scopes: p.required,
		errorStatus: http.StatusForbidden,
	}
}

// checkUser refuses a parent the ingress does not let through, as
// Gafaelfawr's user_allowed does: a token of none of the only_service
// services (a token without a service included), or of another user than
// username. Like Gafaelfawr, it answers with insufficient_scope, the
// nearest of RFC 6750's codes, and names no scope.
func checkUser(parent domain.TokenData, p delegateParams) *problem {
	serviceOK := len(p.onlyServices) == 0 ||
		parent.Service != "" && slices.Contains(p.onlyServices, parent.Service)
	userOK := p.username == "" || p.username == parent.Username
	if serviceOK && userOK {
		return nil
	}
	return &problem{
		status: http.StatusForbidden, outcome: outcomeForbidden, kind: "insufficient_scope",
		msg: "Access not allowed for this user", challenge: errorChallenge, errorStatus: http.StatusForbidden,
	}
}
