package ports

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ingest service's Prometheus series. No label carries a
// customer or event id.
type Metrics struct {
	// Events counts events by source and outcome.
	Events *prometheus.CounterVec
	// Rejections counts refused requests and events by reason.
	Rejections *prometheus.CounterVec
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bazgasht_ingest_events_total",
			Help: "Events received, by source (api, shopify, woocommerce) and outcome (accepted, duplicate, rejected, unavailable).",
		}, []string{"source", "outcome"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bazgasht_ingest_rejections_total",
			Help: "Requests or events refused, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.Events, m.Rejections)
	return m
}
