// Package natstrace carries OpenTelemetry trace context through NATS message
// headers and starts the producer and consumer spans of the messaging
// semantic conventions, so one trace runs from a shop's request through
// JetStream to every service that reacts to it.
package natstrace

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the tracer of this package.
const instrumentation = "github.com/bazgasht/bazgasht/platform/natstrace"

// Carrier adapts nats.Header to a propagation.TextMapCarrier. Unlike
// propagation.HeaderCarrier it keeps keys exactly as written: NATS headers
// are case-sensitive and other languages look for "traceparent", not the
// canonical "Traceparent".
type Carrier nats.Header

var _ propagation.TextMapCarrier = Carrier(nil)

// Get returns the first value of key.
func (c Carrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key with value.
func (c Carrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the keys present.
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes the trace context of ctx into h.
func Inject(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, Carrier(h))
}

// Extract returns ctx carrying the trace context found in h.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, Carrier(h))
}

// StartPublish starts a PRODUCER span for a message about to be published on
// subject with msgID, and injects its context into h. End the span when the
// broker has answered.
func StartPublish(ctx context.Context, subject, msgID string, h nats.Header) (context.Context, trace.Span) {
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("publish"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(msgID),
		))
	Inject(ctx, h)
	return ctx, span
}

// StartConsume starts a CONSUMER span for a message received on subject by
// the durable consumer group, as a child of the context in its headers.
func StartConsume(ctx context.Context, msg *nats.Msg, group, msgID string) (context.Context, trace.Span) {
	if msg.Header != nil {
		ctx = Extract(ctx, msg.Header)
	}
	return otel.Tracer(instrumentation).Start(ctx, "process "+msg.Subject,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(msg.Subject),
			semconv.MessagingConsumerGroupName(group),
			semconv.MessagingMessageID(msgID),
		))
}
