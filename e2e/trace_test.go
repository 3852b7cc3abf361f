package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/bazgasht/bazgasht/platform/poll"
)

// collector is an OTLP trace receiver: what the services export (the
// standard OTEL_* variables point them at it) is kept in memory.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []span
}

// span is one exported span, with the service that made it.
type span struct {
	service, name     string
	kind              tracev1.Span_SpanKind
	trace, id, parent string
	attrs             map[string]string
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, a := range sp.GetAttributes() {
					attrs[a.GetKey()] = a.GetValue().String()
				}
				c.spans = append(c.spans, span{service: service, name: sp.GetName(), kind: sp.GetKind(), trace: hex.EncodeToString(sp.GetTraceId()),
					id: hex.EncodeToString(sp.GetSpanId()), parent: hex.EncodeToString(sp.GetParentSpanId()), attrs: attrs})
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) of(trace string) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, s := range c.spans {
		if s.trace == trace {
			out = append(out, s)
		}
	}
	return out
}

// TestOneTraceFromTheShopToTheSMS: a ticket resolved, sent with the shop's
// own traceparent, becomes one trace across the processes — ingest, the
// trigger's rule, the survey invitation, the notification and the SMS
// gateway call — every span's parent in the trace, producer and consumer
// spans named and attributed by the messaging conventions, and no personal
// data in any attribute.
func TestOneTraceFromTheShopToTheSMS(t *testing.T) {
	col := &collector{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, col)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	s := start(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+lis.Addr().String(), "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_TRACES_SAMPLER=always_on")

	const phone, email, name = "+989123334444", "mina@example.com", "Mina"
	customer := `{"customer_id":"c-mina","email":"` + email + `","phone":"` + phone + `"}`
	signup := `{"id":"mina-signup","type":"customer.updated","customer":` + customer + `,"customer_updated":{"first_name":"` + name + `","locale":"en","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true}]}}`
	if code, body := s.post(t, "/v1/events", signup, nil); code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", code, body)
	}
	tid, root := make([]byte, 16), make([]byte, 8)
	_, _ = rand.Read(tid)
	_, _ = rand.Read(root)
	trace, rootID := hex.EncodeToString(tid), hex.EncodeToString(root)
	resolved := `{"events":[` +
		`{"id":"t-9-opened","type":"ticket.opened","customer":` + customer + `,"ticket_opened":{"ticket_id":"9","topic":"delivery"}},` +
		`{"id":"t-9-resolved","type":"ticket.resolved","customer":` + customer + `,"ticket_resolved":{"ticket_id":"9"}}]}`
	if code, body := s.post(t, "/v1/events:batch", resolved, map[string]string{"traceparent": "00-" + trace + "-" + rootID + "-01"}); code != http.StatusOK {
		t.Fatalf("ticket: %d %s", code, body)
	}
	poll.Until(t, 20*time.Second, "the support survey SMS", func() bool { return len(s.sms.to(phone)) > 0 })

	// The chain from the gateway call back to the shop's request.
	var spans []span
	var call span
	poll.Until(t, 20*time.Second, "the notification service's SMS call in the shop's trace", func() bool {
		spans = col.of(trace)
		for _, sp := range spans {
			if sp.service == "notification" && sp.kind == tracev1.Span_SPAN_KIND_CLIENT && strings.HasPrefix(sp.name, "send ") {
				call = sp
				return true
			}
		}
		return false
	})
	byID := map[string]span{}
	for _, sp := range spans {
		byID[sp.id] = sp
	}
	var path []string
	for sp := call; ; {
		path = append(path, sp.service+": "+sp.name)
		if sp.parent == rootID {
			break
		}
		parent, ok := byID[sp.parent]
		if !ok {
			// Spans end (and export) children first: give the parents time.
			poll.Until(t, 10*time.Second, "span "+sp.parent+" (parent of "+sp.service+": "+sp.name+")", func() bool {
				for _, x := range col.of(trace) {
					byID[x.id] = x
				}
				parent, ok = byID[sp.parent]
				return ok
			})
		}
		sp = parent
	}
	t.Logf("one trace, %d spans; the SMS call's ancestry:\n  %s", len(spans), strings.Join(path, "\n  "))
	seen := map[string]bool{}
	for _, p := range path {
		seen[strings.SplitN(p, ":", 2)[0]] = true
	}
	for _, svc := range []string{"ingest", "trigger", "survey", "notification"} {
		if !seen[svc] {
			t.Errorf("the chain from the shop's request to the SMS skips %s: %v", svc, path)
		}
	}

	for _, sp := range col.of(trace) {
		if sp.kind == tracev1.Span_SPAN_KIND_PRODUCER || sp.kind == tracev1.Span_SPAN_KIND_CONSUMER {
			if !strings.Contains(sp.attrs["messaging.system"], "nats") || sp.attrs["messaging.destination.name"] == "" {
				t.Errorf("%s: %s lacks messaging attributes: %v", sp.service, sp.name, sp.attrs)
			}
		}
		for k, v := range sp.attrs {
			for _, pii := range []string{phone, "9123334444", email, name} {
				if strings.Contains(v, pii) {
					t.Errorf("%s: span %s attribute %s carries personal data: %s", sp.service, sp.name, k, v)
				}
			}
		}
	}
}
