package httpapi

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// Metrics are tokencache's Prometheus metrics, in a registry of their own
// rather than the global one, so that two instances (as in tests) never
// collide. It is the service's ports.Observer, and counts the delegate
// endpoint's requests. Label values are drawn from small fixed sets: never
// a username, a token or anything a client sent.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     prometheus.Histogram
	cacheHits   *prometheus.CounterVec
	cacheMisses *prometheus.CounterVec
	lookups     *prometheus.CounterVec
	created     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
}

var _ ports.Observer = (*Metrics)(nil)

// childTypes are the token types the service hands out; every other type
// is counted as "other".
var childTypes = []domain.TokenType{domain.TokenTypeNotebook, domain.TokenTypeInternal}

// storeOperations are the operations the service and the handler report
// store failures for (ports.Observer.StoreError), each served at zero from
// the start.
var storeOperations = []string{
	"token_store.get_parent", "token_store.get", "token_store.store", "token_store.delete",
	"repository.begin", "repository.find", "repository.add", "repository.commit", "cleanup.dropped",
}

// NewMetrics returns metrics at zero, in a new registry that also holds
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tokencache", Name: name, Help: help,
		}, labels)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: counter("delegate_requests_total",
			"Requests to /auth/delegate, by outcome.", "outcome"),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tokencache", Name: "delegate_duration_seconds",
			Help:    "Time to answer a request to /auth/delegate.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15), // 0.5ms to about 8s
		}),
		cacheHits: counter("cache_hits_total",
			"Children handed out from the in-process cache, by token type.", "token_type"),
		cacheMisses: counter("cache_misses_total",
			"Requests for which no usable child was cached, by token type.", "token_type"),
		lookups: counter("repository_lookups_total",
			"Lookups of an existing child in the repository, by token type and whether one was reused.",
			"token_type", "found"),
		created: counter("children_created_total",
			"New children stored in both stores, by token type.", "token_type"),
		refused: counter("children_refused_total",
			"Children not created because their parent had created as many as its budget allows within the window, by token type.",
			"token_type"),
		storeErrors: counter("store_errors_total",
			"Failures of the token store or repository, by operation.", "operation"),
	}
	m.registry.MustRegister(
		m.requests, m.latency, m.cacheHits, m.cacheMisses, m.lookups, m.created, m.refused, m.storeErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Series that exist from the start make rates and alerts work before
	// the first event.
	for _, o := range outcomes {
		m.requests.WithLabelValues(string(o))
	}
	for _, t := range childTypes {
		m.cacheHits.WithLabelValues(string(t))
		m.cacheMisses.WithLabelValues(string(t))
		m.lookups.WithLabelValues(string(t), "true")
		m.lookups.WithLabelValues(string(t), "false")
		m.created.WithLabelValues(string(t))
		m.refused.WithLabelValues(string(t))
	}
	for _, op := range storeOperations {
		m.storeErrors.WithLabelValues(op)
	}
	return m
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// CacheHit counts a child handed out from the cache.
func (m *Metrics) CacheHit(t domain.TokenType) { m.cacheHits.WithLabelValues(typeLabel(t)).Inc() }

// CacheMiss counts a request for which no usable child was cached.
func (m *Metrics) CacheMiss(t domain.TokenType) { m.cacheMisses.WithLabelValues(typeLabel(t)).Inc() }

// RepositoryLookup counts a lookup in the repository.
func (m *Metrics) RepositoryLookup(t domain.TokenType, found bool) {
	f := "false"
	if found {
		f = "true"
	}
	m.lookups.WithLabelValues(typeLabel(t), f).Inc()
}

// ChildCreated counts a new child.
func (m *Metrics) ChildCreated(t domain.TokenType) { m.created.WithLabelValues(typeLabel(t)).Inc() }

// ChildRefused counts a child refused for its parent's budget.
func (m *Metrics) ChildRefused(t domain.TokenType) { m.refused.WithLabelValues(typeLabel(t)).Inc() }

// StoreError counts a store failure.
func (m *Metrics) StoreError(operation string) {
	m.storeErrors.WithLabelValues(operationLabel(operation)).Inc()
}

// observeRequest counts one request to the delegate endpoint.
func (m *Metrics) observeRequest(o outcome, d time.Duration) {
	m.requests.WithLabelValues(string(o)).Inc()
	m.latency.Observe(d.Seconds())
}

func typeLabel(t domain.TokenType) string {
	if t.Valid() {
		return string(t)
	}
	return "other"
}

// operationLabel passes the service's operation names, such as
// "token_store.get", and folds anything else into "other", so that a
// future caller cannot put arbitrary text into a label.
func operationLabel(op string) string {
	if op == "" || len(op) > 64 {
		return "other"
	}
	for i := 0; i < len(op); i++ {
		c := op[i]
		if !('a' <= c && c <= 'z' || c == '_' || c == '.') {
			return "other"
		}
	}
	return op
}
