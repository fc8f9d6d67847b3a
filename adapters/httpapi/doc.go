// Package httpapi is tokencache's HTTP API, a driving adapter: it turns
// requests from an ingress (nginx's auth_request, as Gafaelfawr's
// /ingress/auth is used) into calls to the token cache service, and serves
// health checks and Prometheus metrics beside them.
//
// Endpoints:
//
//	GET /auth/delegate  a delegated child of the bearer token (see NewHandler)
//	GET /healthz        200 {"status":"ok"} when every store answers, else 503
//	GET /metrics        Prometheus text format
//
// Responses never contain a token secret other than the child handed out in
// X-Auth-Request-Token, never a stack trace, and errors in bodies are
// generic where the cause is internal. The request log never holds the
// Authorization header.
package httpapi
