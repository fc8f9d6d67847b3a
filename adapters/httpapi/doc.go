// Package httpapi is tokencache's HTTP API, a driving adapter: it answers
// an ingress's auth_request (nginx) as Gafaelfawr's /ingress/auth does,
// handing out delegated child tokens through the token cache service, and
// serves health checks and Prometheus metrics beside it.
//
// Endpoints:
//
//	GET /auth/delegate  authentication, authorization and delegation (below)
//	GET /healthz        200 {"status":"ok"} when every store answers, else 503
//	GET /metrics        Prometheus text format
//
// # GET /auth/delegate
//
// Query parameters, as in Gafaelfawr's ingress (booleans take pydantic's
// words: true/false, 1/0, yes/no, on/off, t/f, y/n, in any case):
//
//	notebook=true                a notebook child
//	delegate_to=<service>        an internal child for the service
//	delegate_scope=<scope>       its scopes: those the token holds (repeat;
//	                             one scope a value, a comma list is a 422;
//	                             ignored without delegate_to)
//	minimum_lifetime=<seconds>   at least 300; 300 when a child is asked
//	                             for without it
//	scope=<scope>                a scope the token must hold (repeat)
//	satisfy=all|any              all of the scopes (default), or one
//	auth_type=bearer|basic       the challenges' scheme (default bearer)
//	use_authorization=true       Authorization: Bearer <child> in the answer
//	allow_cookies=false          do not read the state cookie
//	username=<user>              only this user passes
//	only_service=<service>       only tokens of these services pass (repeat)
//
// notebook=true with delegate_to is refused (422 invalid_delegate_to);
// with neither, the request is an authentication check and no child is
// made. user_domain=true is refused (422): it needs the request's original
// URL and hostname, which tokencache does not have, and ignoring it would
// let every user through. service naming another service than
// delegate_to is refused (422 invalid_service), as Gafaelfawr refuses it;
// otherwise it is ignored, as is allow_options.
//
// Credentials, first found wins (Gafaelfawr's Authenticate._find_token):
// the state cookie "gafaelfawr", read through Config.Cookies; then one
// Authorization header, "Bearer <token>" or "Basic" with the token as user
// or password. A cookie whose token the store does not hold is not passed
// over for the header. Several Authorization headers are refused unless
// the cookie authenticates.
//
// Checks, in this order; the first that fails decides the answer:
//
//  1. the query, read as Starlette reads it (parseQuery: more than 10,000
//     parameters, a bad value, a parameter given twice that may be given
//     once): 422;
//  2. delegate_to outside Config.AllowedServices: 403 permission_denied;
//  3. the credentials' form: 403 invalid_request (X-Error-Status: 400) for
//     a header that cannot be read, 401 for none (bare challenge) or a
//     malformed token (invalid_token; a bare challenge if it has a token's
//     shape and the state cookie holds a session, as for step 5);
//  4. minimum_lifetime above Config.TokenLifetime less 5 minutes: 422
//     invalid_minimum_lifetime;
//  5. the token store: an unknown token is a 401 (invalid_token "Token is
//     not valid" for a header, a bare challenge for a cookie, or for a
//     header while the state cookie holds a session that allow_cookies=false
//     set aside); a failure is a 503;
//  6. the token's remaining lifetime against minimum_lifetime: 401
//     invalid_token "Remaining token lifetime too short";
//  7. scope and satisfy: 403 insufficient_scope "Token missing required
//     scope", with scope="<the required scopes, sorted>" in the challenge
//     (satisfy=any without any scope= is never satisfied, as in
//     Gafaelfawr);
//  8. username and only_service: 403 insufficient_scope "Access not
//     allowed for this user";
//  9. the child from the service, if one was asked for: its refusals map
//     to 401, 403 and 422, its failures to 503.
//
// Everything up to step 5 is done without I/O.
//
// A success is 200 {"status":"ok"} with X-Auth-Request-User, -Email (when
// the token has one), -Service (when the token belongs to a service),
// -Token (the child, when one was asked for), and the request's
// Authorization and Cookie headers with Gafaelfawr's credentials taken out
// (tokens in Bearer and Basic credentials, the state cookie), for nginx to
// put in place of the originals; with use_authorization=true, Authorization
// is instead "Bearer <child>", or absent without a child.
//
// Errors have the body {"detail": [{"loc": [...], "msg": ..., "type":
// ...}]}; loc names the parameter at fault, if any. 401 and 403 carry a
// WWW-Authenticate challenge in Gafaelfawr's form, with realm "tokencache":
// `Bearer realm="tokencache"` when no credentials were presented, else
// `Bearer realm="tokencache", error="<type>", error_description="<msg>"`;
// with auth_type=basic always `Basic realm="tokencache"`. Where Gafaelfawr
// raises through generate_challenge (invalid_request, invalid_token of a
// presented header, insufficient_scope) the answer also has X-Error-Status
// (the real status) and X-Error-Body (the body, spaced as Python's
// json.dumps), which Gafaelfawr's nginx snippet shows through its error
// page. A 401 for missing credentials or too short a lifetime is a 403 for
// a request with X-Requested-With: XMLHttpRequest.
//
// The client address recorded for a new child is the connection's peer,
// or, when the peer is within Config.TrustedProxies, the rightmost address
// of X-Forwarded-For (all such headers, as one list) outside them, or the
// leftmost if all are within. Unlike safir's middleware, which Gafaelfawr
// runs, an untrusted peer's header is not read, and an entry that is not
// an IP address ends the walk: the last address known to be real (the
// trusted entry to its right, or the peer) is recorded.
//
// # Where tokencache differs from Gafaelfawr
//
//   - Error bodies always hold a list of details; Gafaelfawr's bodies for
//     missing credentials and too short a lifetime hold one object. Its
//     validation errors use pydantic's types (greater_than_equal, enum,
//     bool_parsing); here they are invalid_parameter.
//   - Every parameter error is found before the credentials are read;
//     Gafaelfawr reports most of them only after authenticating.
//   - minimum_lifetime takes whole seconds only; scope= and delegate_scope=
//     values must match ^[a-zA-Z0-9:._-]+$; delegate_to must be visible
//     text; a parameter that may be given once may not be given twice.
//   - Several Authorization headers are refused; Gafaelfawr reads the
//     first. A state cookie's token must be well formed to count.
//   - Messages never quote what the client sent (Gafaelfawr's "Unknown
//     Authorization type <scheme>" could echo a token sent without one).
//   - X-Original-URL and X-Original-Method are not required, and OPTIONS
//     requests, rate limits and user information from LDAP are not
//     handled.
//
// Responses never contain a token secret other than the child handed out
// (in X-Auth-Request-Token, and in Authorization with use_authorization),
// and the reflected credentials of the application; never a stack trace;
// and errors are generic where the cause is internal. The request log
// never holds a header.
package httpapi
