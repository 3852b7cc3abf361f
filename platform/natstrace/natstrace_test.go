package natstrace_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bazgasht/bazgasht/platform/natstrace"
)

func TestPublishThenConsumeKeepsOneTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	h := nats.Header{}
	ctx, pub := natstrace.StartPublish(context.Background(), "cx.demo.journey.order.placed", "demo:e1", h)
	pub.End()

	if got := h["traceparent"]; len(got) != 1 {
		t.Fatalf("header traceparent (lower case, as other languages read it) = %v, want one value; headers %v", got, h)
	}
	if _, canon := h["Traceparent"]; canon {
		t.Fatalf("canonicalised Traceparent key written; NATS headers are case-sensitive")
	}

	msg := &nats.Msg{Subject: "cx.demo.journey.order.placed", Header: h}
	_, con := natstrace.StartConsume(context.Background(), msg, "profile", "demo:e1")
	con.End()

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	p, c := spans[0], spans[1]
	if p.SpanKind != trace.SpanKindProducer || c.SpanKind != trace.SpanKindConsumer {
		t.Fatalf("kinds = %v, %v; want producer, consumer", p.SpanKind, c.SpanKind)
	}
	if c.Parent.SpanID() != p.SpanContext.SpanID() || c.SpanContext.TraceID() != trace.SpanContextFromContext(ctx).TraceID() {
		t.Fatalf("consumer span is not the child of the producer span in the same trace")
	}
	if p.Name != "publish cx.demo.journey.order.placed" {
		t.Fatalf("producer span name = %q", p.Name)
	}
	want := map[string]string{"messaging.system": "nats", "messaging.destination.name": "cx.demo.journey.order.placed", "messaging.consumer.group.name": "profile", "messaging.message.id": "demo:e1"}
	got := map[string]string{}
	for _, kv := range c.Attributes {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("consumer attribute %s = %q, want %q", k, got[k], v)
		}
	}
}
