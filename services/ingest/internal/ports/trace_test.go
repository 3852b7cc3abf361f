package ports_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
	"github.com/bazgasht/bazgasht/services/ingest/internal/ports"
	"github.com/bazgasht/bazgasht/services/ingest/internal/service"
)

// The shop's identities in the traced event; none may reach a span.
const (
	piiCustomerID = "cust-7731-zx"
	piiEmail      = "maryam.traced@example.com"
	piiPhone      = "+989127770011"
)

// TestOneTraceFromTheShopsRequestToTheStoredMessage follows a request that
// arrives with the shop's trace context through the HTTP server span and the
// JetStream producer span into the stored message's headers.
//
// It sets the global tracer provider and propagator, so it does not call
// t.Parallel: Go runs every sequential test of the package before it
// resumes the parallel ones, so nothing else creates spans meanwhile.
func TestOneTraceFromTheShopsRequestToTheStoredMessage(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		_ = tp.Shutdown(t.Context())
	})

	a := newAPI(t)
	url := tracedHTTP(t, a)

	const (
		shopTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		shopSpan  = "00f067aa0ba902b7"
	)
	body := `{"id":"tr-1","type":"order.placed",
	 "customer":{"customer_id":"` + piiCustomerID + `","email":"` + piiEmail + `","phone":"` + piiPhone + `"},
	 "order_placed":{"order_id":"77","total":{"currency":"IRT","amount":"480000"}}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+demoKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+shopTrace+"-"+shopSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post = %d %s, want 202", resp.StatusCode, raw)
	}

	// The response can reach the client before the server span ends.
	server := waitForSpan(t, exp, trace.SpanKindServer)
	if server.Name != "POST /v1/events" {
		t.Fatalf("server span name = %q, want the route \"POST /v1/events\"", server.Name)
	}
	if got := server.SpanContext.TraceID().String(); got != shopTrace {
		t.Fatalf("server span trace id = %s, want the shop's %s", got, shopTrace)
	}
	if got := server.Parent.SpanID().String(); got != shopSpan || !server.Parent.IsRemote() {
		t.Fatalf("server span parent = %s (remote %v), want the shop's span %s", got, server.Parent.IsRemote(), shopSpan)
	}

	producer := waitForSpan(t, exp, trace.SpanKindProducer)
	const subject = "cx.demo.journey.order.placed"
	if producer.Name != "publish "+subject {
		t.Errorf("producer span name = %q, want %q", producer.Name, "publish "+subject)
	}
	if producer.SpanContext.TraceID() != server.SpanContext.TraceID() || producer.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Fatalf("producer span (trace %s, parent %s) is not a child of the server span (trace %s, span %s)",
			producer.SpanContext.TraceID(), producer.Parent.SpanID(), server.SpanContext.TraceID(), server.SpanContext.SpanID())
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range producer.Attributes {
		attrs[kv.Key] = kv.Value.Emit()
	}
	for k, v := range map[attribute.Key]string{
		"messaging.system":           "nats",
		"messaging.destination.name": subject,
		"messaging.message.id":       "demo:tr-1",
	} {
		if attrs[k] != v {
			t.Errorf("producer attribute %s = %q, want %q", k, attrs[k], v)
		}
	}

	msgs := a.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("JOURNEY holds %d, want 1", len(msgs))
	}
	h := msgs[0].Header
	tp0 := h["traceparent"]
	if len(tp0) != 1 {
		t.Fatalf("stored headers %v: want one lower-case traceparent, as other languages read it", h)
	}
	if _, canon := h["Traceparent"]; canon {
		t.Errorf("stored headers hold a canonicalised Traceparent: %v", h)
	}
	parts := strings.Split(tp0[0], "-")
	if len(parts) != 4 || parts[1] != shopTrace || parts[2] != producer.SpanContext.SpanID().String() {
		t.Fatalf("stored traceparent = %q, want trace %s and parent span %s (the producer span)", tp0[0], shopTrace, producer.SpanContext.SpanID())
	}

	// No customer identity in any span's name, attributes or events.
	for _, s := range exp.GetSpans() {
		kvs := append([]attribute.KeyValue{attribute.String("span.name", s.Name)}, s.Attributes...)
		for _, e := range s.Events {
			kvs = append(kvs, e.Attributes...)
		}
		for _, kv := range kvs {
			for _, pii := range []string{piiCustomerID, piiEmail, piiPhone} {
				if strings.Contains(kv.Value.Emit(), pii) {
					t.Errorf("span %q attribute %s = %q holds the customer's %q", s.Name, kv.Key, kv.Value.Emit(), pii)
				}
			}
		}
	}
}

// tracedHTTP serves the HTTP API over a's nats-server the way service.Run
// does: ports.HTTP wrapped by otelhttp, with service.Run's span names.
func tracedHTTP(t *testing.T, a *api) string {
	t.Helper()
	dir, err := tenant.NewDirectory([]*tenant.Tenant{{ID: "demo", KeyHashes: [][32]byte{tenant.HashKey(demoKey)}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := adapters.NewJourneyPublisher(a.nats.NC, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.NewPublishEventsHandler(pub, adapters.NewRateLimiter(time.Now), time.Now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hp, err := ports.NewHTTP(h, dir, ports.Limits{EventBytes: 64 << 10, BatchBytes: 1 << 20, RetryAfter: time.Second},
		slog.New(slog.DiscardHandler), ports.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(service.Traced(hp.Handler()))
	t.Cleanup(ts.Close)
	return ts.URL
}

// waitForSpan returns the first ended span of kind, polling until a deadline.
func waitForSpan(t *testing.T, exp *tracetest.InMemoryExporter, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	var found tracetest.SpanStub
	poll.Until(t, 5*time.Second, fmt.Sprintf("a %v span", kind), func() bool {
		for _, s := range exp.GetSpans() {
			if s.SpanKind == kind {
				found = s
				return true
			}
		}
		return false
	})
	return found
}
