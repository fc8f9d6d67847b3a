package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/tokencache/tokencache/ports"
)

// Config configures NewHandler.
type Config struct {
	// Issuer hands out children; Parents looks up the presented token.
	Issuer  ChildIssuer
	Parents ParentStore

	// Cookies reads the session token from Gafaelfawr's state cookie; nil
	// means cookies are not read (they are still taken out of the
	// reflected Cookie header).
	Cookies SessionCookies

	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (see NewHandler); none means the peer address is the client's.
	TrustedProxies []netip.Prefix

	// AllowedServices are the services delegate_to may name; empty means
	// any.
	AllowedServices []string

	// TokenLifetime is the service's token lifetime. When set, a
	// minimum_lifetime longer than it less 5 minutes is refused before any
	// store is read, also when no child is asked for, as Gafaelfawr does;
	// 0 leaves the check to the issuer, which makes it for children only.
	TokenLifetime time.Duration

	// Clock tells the time against which a parent's remaining lifetime is
	// measured; nil means the system clock.
	Clock ports.Clock

	// Health are the checks of GET /healthz.
	Health HealthChecks

	// Metrics are served at GET /metrics and count delegate requests. Pass
	// the same Metrics that the service observes with; nil makes a new one.
	Metrics *Metrics

	// Logger receives one record per request; nil discards them.
	Logger *slog.Logger

	// RequestTimeout bounds each request to /auth/delegate and /healthz
	// that waits on a store: past it the answer is a 503. What process
	// memory holds (see LocalIssuer) is served with no store to wait on,
	// and no deadline. 0 means DefaultRequestTimeout. NewHandler panics if
	// it is negative.
	RequestTimeout time.Duration
}

// NewHandler returns the HTTP API.
//
// GET /auth/delegate answers an ingress's auth_request as Gafaelfawr's
// /ingress/auth does (see the package documentation for the details and
// where tokencache differs). It authenticates the request with the state
// cookie, else "Authorization: Bearer <token>", else Basic with the token
// as user or password; checks that the token holds the scope= scopes
// (satisfy=all or any) and lives for minimum_lifetime; and then, with
// notebook=true, hands out a notebook child, with delegate_to=<service>
// and delegate_scope=<scope> an internal child with those of the scopes
// the token holds, and with neither only confirms the authentication. It
// answers:
//
//	200 X-Auth-Request-User, -Email, -Service, -Token (a child, when one
//	    was asked for), and the request's Authorization and Cookie with
//	    Gafaelfawr's credentials removed
//	401 no credentials; a malformed, unknown or expired token; one that
//	    expires within minimum_lifetime (300 s by default for a child)
//	403 a required scope missing (insufficient_scope); unreadable or
//	    several Authorization headers (invalid_request, X-Error-Status:
//	    400); a delegate_to outside AllowedServices
//	422 a query of too many parameters or a value that cannot be accepted,
//	    including notebook=true with delegate_to
//	503 a store failed or the request timed out
//
// Errors have a JSON body {"detail": [{"loc": ..., "msg": ..., "type":
// ...}]}, and 401 and 403 a WWW-Authenticate challenge of the scheme
// auth_type names. The query and the credentials are checked before any
// store is read.
//
// The client address recorded for a new child is the peer's, or from
// X-Forwarded-For when the peer is one of TrustedProxies.
func NewHandler(cfg Config) http.Handler {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.RequestTimeout < 0:
		panic("httpapi: Config.RequestTimeout is negative")
	case cfg.RequestTimeout == 0:
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /auth/delegate", newDelegateHandler(cfg))
	// Only GET, as Gafaelfawr's route (FastAPI's, which adds no HEAD):
	// a HEAD would otherwise make a child for an answer without a body.
	mux.Handle("HEAD /auth/delegate", onlyGet{cfg.Metrics})
	mux.Handle("/auth/delegate", onlyGet{cfg.Metrics})
	mux.Handle("GET /healthz", withTimeout(cfg.RequestTimeout, &healthHandler{
		checks: cfg.Health, logger: cfg.Logger,
	}))
	mux.Handle("GET /metrics", cfg.Metrics.Handler())
	return logRequests(cfg.Logger, recoverPanics(cfg.Logger, mux))
}

// systemClock reads the real time.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// unmapPrefixes writes IPv4-mapped IPv6 networks as IPv4 ones, since
// addresses are unmapped before they are compared with them.
func unmapPrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// onlyGet answers 405 to a method other than GET, with FastAPI's body.
// It counts the request as one to /auth/delegate.
type onlyGet struct{ metrics *Metrics }

func (o onlyGet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { o.metrics.observeRequest(outcomeMethodNotAllowed, time.Since(start)) }()
	requestInfoFrom(r.Context()).outcome = outcomeMethodNotAllowed
	w.Header().Set("Allow", http.MethodGet)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = io.WriteString(w, `{"detail":"Method Not Allowed"}`)
}
