package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Config configures NewHandler.
type Config struct {
	// Issuer hands out children; Parents looks up the bearer token.
	Issuer  ChildIssuer
	Parents ParentStore

	// Health are the checks of GET /healthz.
	Health HealthChecks

	// Metrics are served at GET /metrics and count delegate requests. Pass
	// the same Metrics that the service observes with; nil makes a new one.
	Metrics *Metrics

	// Logger receives one record per request; nil discards them.
	Logger *slog.Logger

	// RequestTimeout bounds each request to /auth/delegate and /healthz;
	// 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// NewHandler returns the HTTP API.
//
// GET /auth/delegate takes the parent token from "Authorization: Bearer
// gt-..." and the query notebook=true, or delegate_to=<service> with
// delegate_scope=<scope>[,<scope>...] (the child gets those of them the
// parent holds), and optionally minimum_lifetime=<seconds>. It answers:
//
//	200 X-Auth-Request-Token: gt-<child>, X-Auth-Request-User: <username>
//	400 neither or both of notebook=true and delegate_to
//	401 no bearer token (bare challenge); a malformed, unknown or expired
//	    parent, or one that expires before minimum_lifetime
//	    (error="invalid_token")
//	403 the parent lacks a requested scope (error="insufficient_scope")
//	422 a parameter value that does not parse or that the service refuses
//	503 a store failed or the request timed out
//
// Errors have a JSON body {"detail": [{"msg": ..., "type": ...}]}.
// Requests are checked in that order of cost: the token's syntax, then the
// parameters, and only then the stores.
//
// The client address recorded for a new child is the connection's peer;
// forwarded-for headers are not trusted.
func NewHandler(cfg Config) http.Handler {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	mux := http.NewServeMux()
	mux.Handle("GET /auth/delegate", withTimeout(cfg.RequestTimeout, &delegateHandler{
		issuer: cfg.Issuer, parents: cfg.Parents, metrics: cfg.Metrics,
	}))
	mux.Handle("GET /healthz", withTimeout(cfg.RequestTimeout, &healthHandler{
		checks: cfg.Health, logger: cfg.Logger,
	}))
	mux.Handle("GET /metrics", cfg.Metrics.Handler())
	return logRequests(cfg.Logger, recoverPanics(cfg.Logger, mux))
}
