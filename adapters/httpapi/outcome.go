package httpapi

// outcome is how a delegation request ended: the value of the outcome
// label of tokencache_delegate_requests_total and of the request log.
type outcome string

const (
	outcomeOK               outcome = "ok"                 // 200
	outcomeBadRequest       outcome = "bad_request"        // credentials that cannot be read: 403, X-Error-Status 400
	outcomeInvalidToken     outcome = "invalid_token"      // 401
	outcomeForbidden        outcome = "forbidden"          // 403
	outcomeRateLimited      outcome = "rate_limited"       // the parent's budget of new children is spent: 403, X-Error-Status 429
	outcomeInvalidParameter outcome = "invalid_parameter"  // 422
	outcomeUnavailable      outcome = "unavailable"        // 503: a store failed
	outcomeTimeout          outcome = "timeout"            // 503: the request timeout passed
	outcomeCanceled         outcome = "canceled"           // the client went away
	outcomeInternal         outcome = "internal"           // 500: a bug, or no client address
	outcomeMethodNotAllowed outcome = "method_not_allowed" // 405: a method other than GET
)

// outcomes lists every outcome, so that metrics show each at zero from the
// start rather than appearing on first use.
var outcomes = []outcome{
	outcomeOK, outcomeBadRequest, outcomeInvalidToken, outcomeForbidden, outcomeRateLimited, outcomeInvalidParameter,
	outcomeUnavailable, outcomeTimeout, outcomeCanceled, outcomeInternal, outcomeMethodNotAllowed,
}
