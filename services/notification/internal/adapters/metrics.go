package adapters

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
)

var tracer = otel.Tracer("github.com/bazgasht/bazgasht/services/notification")

// Metrics are the service's Prometheus metrics, recorded by decorators
// around the providers and the outcome events rather than inside the
// dispatcher.
type Metrics struct {
	outcomes *prometheus.CounterVec
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bazgasht_notification_outcomes_total",
			Help: "Notification outcomes published, by outcome and channel."}, []string{"outcome", "channel"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bazgasht_notification_provider_calls_total",
			Help: "Provider calls, by provider and result (accepted, transient, permanent)."}, []string{"provider", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bazgasht_notification_provider_seconds",
			Help: "Provider call duration.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"provider"}),
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.calls, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Events counts outcomes published through next.
func (m *Metrics) Events(next app.Events) app.Events { return countingEvents{next, m} }

type countingEvents struct {
	next app.Events
	m    *Metrics
}

// Publish counts what next published.
func (c countingEvents) Publish(ctx context.Context, outcomes ...app.Outcome) error {
	err := c.next.Publish(ctx, outcomes...)
	if err == nil {
		for _, o := range outcomes {
			c.m.outcomes.WithLabelValues(string(o.Type), string(o.Channel)).Inc()
		}
	}
	return err
}

// Provider times, counts and traces next's calls: a client span per call,
// with the provider, channel and result — no addresses, numbers or text.
func (m *Metrics) Provider(next app.Provider) app.Provider { return timedProvider{next, m} }

type timedProvider struct {
	app.Provider
	m *Metrics
}

// Send times the call and counts its result.
func (p timedProvider) Send(ctx context.Context, msg app.Message) (app.Receipt, error) {
	ctx, span := tracer.Start(ctx, "send "+p.Name(), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("bazgasht.tenant", msg.Tenant), attribute.String("bazgasht.notification.channel", string(msg.Channel)),
		attribute.String("bazgasht.notification.provider", p.Name())))
	defer span.End()
	start := time.Now()
	r, err := p.Provider.Send(ctx, msg)
	p.m.latency.WithLabelValues(p.Name()).Observe(time.Since(start).Seconds())
	result := "accepted"
	var perr *app.ProviderError
	switch {
	case errors.As(err, &perr) && perr.Permanent:
		result = "permanent"
	case err != nil:
		result = "transient"
	}
	p.m.calls.WithLabelValues(p.Name(), result).Inc()
	span.SetAttributes(attribute.String("bazgasht.notification.result", result))
	if err != nil {
		span.SetStatus(codes.Error, result)
	}
	return r, err
}
