package journeystream

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The consumers' series, shared by every consume loop of a service (the
// loops here and the services' own, through Observe and DeadLetter). No
// label names a customer: consumer names and outcomes only.
var (
	consumed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bazgasht_consumer_messages_total",
		Help: "Messages a consumer finished with, by outcome: done, retried (handed back to come again) or dead_lettered.",
	}, []string{"consumer", "outcome"})
	handling = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bazgasht_consumer_handle_seconds",
		Help:    "Time a consumer took to handle one message.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
	}, []string{"consumer"})
	lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bazgasht_consumer_lag_messages",
		Help: "Messages in the stream the consumer has not been handed yet.",
	}, []string{"consumer"})
	unacked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bazgasht_consumer_unacknowledged_messages",
		Help: "Messages handed to the consumer and not yet acknowledged.",
	}, []string{"consumer"})
)

// RegisterMetrics adds the consumers' series to a service's registry.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{consumed, handling, lag, unacked} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// The outcomes Observe records.
const (
	OutcomeDone         = "done"
	OutcomeRetried      = "retried"
	OutcomeDeadLettered = "dead_lettered"
)

// Observe records that consumer finished a message with outcome after took
// (zero: not timed). DeadLetter records dead letters itself.
func Observe(consumer, outcome string, took time.Duration) {
	consumed.WithLabelValues(consumer, outcome).Inc()
	if took > 0 {
		handling.WithLabelValues(consumer).Observe(took.Seconds())
	}
}

// WatchLag returns a runner component that reads c's backlog every period
// into bazgasht_consumer_lag_messages and …_unacknowledged_messages.
func WatchLag(c jetstream.Consumer, durable string, period time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if info, err := c.Info(ctx); err == nil {
				lag.WithLabelValues(durable).Set(float64(info.NumPending))
				unacked.WithLabelValues(durable).Set(float64(info.NumAckPending))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
