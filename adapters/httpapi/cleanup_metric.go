package httpapi

import "github.com/prometheus/client_golang/prometheus"

// WatchCleanups serves pending() as the gauge tokencache_cleanups_pending:
// clean-ups after failed creations that could not be done at once and are
// being retried (app.TokenCacheService.PendingCleanups). Call it once.
func (m *Metrics) WatchCleanups(pending func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tokencache", Name: "cleanups_pending",
		Help: "Children of failed creations still to be deleted from the token store, retried in the background.",
	}, func() float64 { return float64(pending()) }))
}
