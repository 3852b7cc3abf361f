package ports_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	ingestv1 "github.com/bazgasht/bazgasht/gen/cx/ingest/v1"
	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
)

// grpcAPI is the ingest gRPC service, served as in production by
// grpcserver.New (health, reflection, otelgrpc), over an in-memory
// connection, in front of a real in-process nats-server.
type grpcAPI struct {
	*api
	conn   *grpc.ClientConn
	client ingestv1.IngestServiceClient
}

func newGRPCAPI(t *testing.T) *grpcAPI {
	t.Helper()
	a := newAPI(t)
	srv, _ := grpcserver.New()
	ingestv1.RegisterIngestServiceServer(srv, a.grpc)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &grpcAPI{api: a, conn: conn, client: ingestv1.NewIngestServiceClient(conn)}
}

// withKey returns a context whose calls carry key as the tenant's API key.
func withKey(t *testing.T, key string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// detail returns the status detail of type T carried by err, failing the
// test when there is none.
func detail[T proto.Message](t *testing.T, err error) T {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if v, ok := d.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("status %v carries no %T detail; details: %v", err, zero, status.Convert(err).Details())
	return zero
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("status = %v (%v), want %v", got, err, want)
	}
}

func orderPlacedEvent(id string) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{
		Id:       id,
		Type:     "order.placed",
		Customer: &journeyv1.Customer{CustomerId: "c-42", Email: "sara@example.com"},
		Payload: &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{
			OrderId: "1001",
			Total:   &journeyv1.Money{Currency: "IRT", Amount: "1250000"},
		}},
	}
}

func customEvent(id string) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Type: "wishlist.added", Customer: &journeyv1.Customer{CustomerId: "c"}}
}

func TestGRPCPublishEventStoresItOnceInJetStream(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	ctx := withKey(t, demoKey)

	first, err := a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: orderPlacedEvent("evt-2001")})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if r := first.GetResult(); r.GetOutcome() != ingestv1.Outcome_OUTCOME_ACCEPTED || r.GetId() != "evt-2001" || r.GetIndex() != 0 {
		t.Fatalf("first call = %v, want accepted evt-2001", r)
	}
	again, err := a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: orderPlacedEvent("evt-2001")})
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if r := again.GetResult(); r.GetOutcome() != ingestv1.Outcome_OUTCOME_DUPLICATE {
		t.Fatalf("same event again = %v, want duplicate", r)
	}

	msgs := a.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("JOURNEY holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "cx.demo.journey.order.placed" || m.Header.Get("Nats-Msg-Id") != "demo:evt-2001" {
		t.Fatalf("stored on %q with Nats-Msg-Id %q, want cx.demo.journey.order.placed and demo:evt-2001", m.Subject, m.Header.Get("Nats-Msg-Id"))
	}
	ev := decode(t, m)
	if ev.GetTenant() != "demo" || ev.GetSource() != "api" || ev.GetReceivedAt() == nil || ev.GetOccurredAt() == nil {
		t.Fatalf("stored event not stamped: tenant %q source %q received %v occurred %v", ev.GetTenant(), ev.GetSource(), ev.GetReceivedAt(), ev.GetOccurredAt())
	}
	if got := ev.GetOrderPlaced().GetTotal(); got.GetAmount() != "1250000" || got.GetCurrency() != "IRT" {
		t.Fatalf("stored total = %v, want 1250000 IRT", got)
	}
}

func TestGRPCRefusesCallsWithoutAValidKey(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	cases := []struct {
		name string
		md   []string // authorization metadata values; none when empty
	}{
		{"no metadata", nil},
		{"wrong key", []string{"Bearer bzk_not_a_key"}},
		{"key without Bearer scheme", []string{demoKey}},
		{"basic scheme", []string{"Basic " + demoKey}},
		{"empty bearer", []string{"Bearer "}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := withKey(t, "")
				for _, v := range tc.md {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
				}
				_, err := a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: orderPlacedEvent("u-1")})
				wantCode(t, err, codes.Unauthenticated)
				_, err = a.client.PublishEvents(ctx, &ingestv1.PublishEventsRequest{Events: []*journeyv1.JourneyEvent{orderPlacedEvent("u-2")}})
				wantCode(t, err, codes.Unauthenticated)
			})
		}
	})
	if n := len(a.stored(t)); n != 0 {
		t.Fatalf("unauthenticated calls stored %d events", n)
	}
}

func TestGRPCRejectsAnInvalidEventNamingTheField(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	withPayload := func(ev *journeyv1.JourneyEvent, p func(*journeyv1.JourneyEvent)) *journeyv1.JourneyEvent {
		p(ev)
		return ev
	}
	cases := []struct {
		name  string
		event *journeyv1.JourneyEvent
		field string
	}{
		{"no customer", withPayload(orderPlacedEvent("i-1"), func(ev *journeyv1.JourneyEvent) { ev.Customer = nil }), "customer"},
		{"payload not matching type", withPayload(orderPlacedEvent("i-2"), func(ev *journeyv1.JourneyEvent) {
			ev.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p1"}}}
		}), "product_viewed"},
		{"known type without payload", withPayload(orderPlacedEvent("i-3"), func(ev *journeyv1.JourneyEvent) { ev.Payload = nil }), "order_placed"},
		{"amount not a decimal", withPayload(orderPlacedEvent("i-4"), func(ev *journeyv1.JourneyEvent) { ev.GetOrderPlaced().Total.Amount = "1,000" }), "order_placed.total.amount"},
		{"no id", customEvent(""), "id"},
		{"another tenant named", withPayload(customEvent("i-6"), func(ev *journeyv1.JourneyEvent) { ev.Tenant = "tight" }), "tenant"},
		{"internal type", withPayload(customEvent("i-7"), func(ev *journeyv1.JourneyEvent) { ev.Type = "trigger.fired" }), "type"},
		{"no event at all", nil, "id"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := a.client.PublishEvent(withKey(t, demoKey), &ingestv1.PublishEventRequest{Event: tc.event})
				wantCode(t, err, codes.InvalidArgument)
				br := detail[*errdetails.BadRequest](t, err)
				var fields []string
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
					if v.GetField() == tc.field && v.GetDescription() == "" {
						t.Errorf("violation of %s has no description", tc.field)
					}
				}
				if !slices.Contains(fields, tc.field) {
					t.Fatalf("BadRequest names %v, want %q among them", fields, tc.field)
				}
			})
		}
	})
	if n := len(a.stored(t)); n != 0 {
		t.Fatalf("invalid events stored %d messages", n)
	}
}

func TestGRPCPublishEventsReportsEachEventInOrder(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	ctx := withKey(t, demoKey)
	if _, err := a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: orderPlacedEvent("b-2")}); err != nil {
		t.Fatal(err)
	}
	badAmount := orderPlacedEvent("b-3")
	badAmount.GetOrderPlaced().Total.Amount = "1,000"
	resp, err := a.client.PublishEvents(ctx, &ingestv1.PublishEventsRequest{Events: []*journeyv1.JourneyEvent{
		customEvent("b-1"),
		orderPlacedEvent("b-2"), // stored by the call above
		badAmount,
		customEvent("b-4"),
		customEvent("b-1"), // repeated within the batch
	}})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	want := []struct {
		id      string
		outcome ingestv1.Outcome
	}{
		{"b-1", ingestv1.Outcome_OUTCOME_ACCEPTED},
		{"b-2", ingestv1.Outcome_OUTCOME_DUPLICATE},
		{"b-3", ingestv1.Outcome_OUTCOME_REJECTED},
		{"b-4", ingestv1.Outcome_OUTCOME_ACCEPTED},
		{"b-1", ingestv1.Outcome_OUTCOME_DUPLICATE},
	}
	if len(resp.GetResults()) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(resp.GetResults()), len(want), resp)
	}
	for i, w := range want {
		r := resp.GetResults()[i]
		if int(r.GetIndex()) != i || r.GetId() != w.id || r.GetOutcome() != w.outcome {
			t.Errorf("result %d = %v, want index %d id %s %v", i, r, i, w.id, w.outcome)
		}
	}
	if e := resp.GetResults()[2].GetErrors(); len(e) != 1 || e[0].GetField() != "order_placed.total.amount" || e[0].GetReason() == "" {
		t.Errorf("rejected event's errors = %v, want one naming order_placed.total.amount", e)
	}
	if resp.GetAccepted() != 2 || resp.GetDuplicates() != 2 || resp.GetRejected() != 1 || resp.GetUnavailable() != 0 {
		t.Errorf("counts = accepted %d duplicates %d rejected %d unavailable %d, want 2 2 1 0",
			resp.GetAccepted(), resp.GetDuplicates(), resp.GetRejected(), resp.GetUnavailable())
	}
	if n := len(a.stored(t)); n != 3 {
		t.Fatalf("JOURNEY holds %d, want 3 (b-2 before the batch, b-1 and b-4 from it)", n)
	}
}

func TestGRPCPublishEventsRefusesABatchOfWrongSize(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	tooMany := make([]*journeyv1.JourneyEvent, 1001)
	for i := range tooMany {
		tooMany[i] = customEvent(fmt.Sprintf("m-%d", i))
	}
	cases := []struct {
		name   string
		events []*journeyv1.JourneyEvent
	}{
		{"empty batch", nil},
		{"1001 events", tooMany},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := a.client.PublishEvents(withKey(t, demoKey), &ingestv1.PublishEventsRequest{Events: tc.events})
				wantCode(t, err, codes.InvalidArgument)
				br := detail[*errdetails.BadRequest](t, err)
				if v := br.GetFieldViolations(); len(v) != 1 || v[0].GetField() != "events" {
					t.Fatalf("BadRequest = %v, want one violation naming events", v)
				}
			})
		}
	})
	if n := len(a.stored(t)); n != 0 {
		t.Fatalf("refused batches stored %d events", n)
	}
}

func TestGRPCRateLimitIsResourceExhaustedWithRetryInfo(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	ctx := withKey(t, tightKey)
	batch := make([]*journeyv1.JourneyEvent, 1000)
	for i := range batch {
		batch[i] = customEvent(fmt.Sprintf("r-%d", i))
	}
	resp, err := a.client.PublishEvents(ctx, &ingestv1.PublishEventsRequest{Events: batch})
	if err != nil {
		t.Fatalf("a batch of the whole burst: %v", err)
	}
	if resp.GetAccepted() != 1000 {
		t.Fatalf("accepted %d of the burst, want 1000", resp.GetAccepted())
	}

	_, err = a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: customEvent("r-x")})
	wantCode(t, err, codes.ResourceExhausted)
	ri := detail[*errdetails.RetryInfo](t, err)
	if d := ri.GetRetryDelay().AsDuration(); d <= 0 || d > 2*time.Second {
		t.Fatalf("RetryInfo delay = %v, want about 1s (one event at 1/s)", d)
	}
	if n := len(a.stored(t)); n != 1000 {
		t.Fatalf("JOURNEY holds %d, want the 1000 admitted", n)
	}

	// Another tenant has its own bucket.
	if _, err := a.client.PublishEvent(withKey(t, demoKey), &ingestv1.PublishEventRequest{Event: orderPlacedEvent("other")}); err != nil {
		t.Fatalf("other tenant: %v", err)
	}
}

func TestGRPCBrokerDownIsUnavailableWithRetryInfo(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	a.nats.Stop()
	ctx := withKey(t, demoKey)

	start := time.Now()
	_, err := a.client.PublishEvent(ctx, &ingestv1.PublishEventRequest{Event: orderPlacedEvent("d-1")})
	wantCode(t, err, codes.Unavailable)
	if d := detail[*errdetails.RetryInfo](t, err).GetRetryDelay().AsDuration(); d != 2*time.Second {
		t.Fatalf("RetryInfo delay = %v, want the configured 2s", d)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answer took %v; it must come within the publish timeout", d)
	}

	// A batch reports the outage per event, so the caller knows what to resend.
	resp, err := a.client.PublishEvents(ctx, &ingestv1.PublishEventsRequest{Events: []*journeyv1.JourneyEvent{orderPlacedEvent("d-2")}})
	if err != nil {
		t.Fatalf("batch with NATS down: %v", err)
	}
	if resp.GetUnavailable() != 1 || resp.GetResults()[0].GetOutcome() != ingestv1.Outcome_OUTCOME_UNAVAILABLE {
		t.Fatalf("batch with NATS down = %v, want one unavailable", resp)
	}
}

func TestGRPCHealthAndReflection(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	ctx := withKey(t, "")

	hc, err := healthpb.NewHealthClient(a.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	if hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, want SERVING", hc.GetStatus())
	}

	stream, err := reflectionpb.NewServerReflectionClient(a.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"cx.ingest.v1.IngestService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, want %s among them", names, want)
		}
	}
}

// Over the wire the server works on its own copy; a caller in the same
// process (a test, an in-process gateway) hands its message to the handler
// directly, so the handler must not stamp tenant, source or times into it.
func TestGRPCDoesNotChangeTheCallersMessage(t *testing.T) {
	t.Parallel()
	a := newGRPCAPI(t)
	ctx := metadata.NewIncomingContext(withKey(t, ""), metadata.Pairs("authorization", "Bearer "+demoKey))

	one := &ingestv1.PublishEventRequest{Event: customEvent("c-1")}
	before := proto.Clone(one)
	if _, err := a.grpc.PublishEvent(ctx, one); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(one, before) {
		t.Fatalf("PublishEvent changed the request:\n got %v\nwant %v", one, before)
	}

	batch := &ingestv1.PublishEventsRequest{Events: []*journeyv1.JourneyEvent{customEvent("c-2"), customEvent("c-3")}}
	beforeBatch := proto.Clone(batch)
	if _, err := a.grpc.PublishEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(batch, beforeBatch) {
		t.Fatalf("PublishEvents changed the request:\n got %v\nwant %v", batch, beforeBatch)
	}

	// The stored copies are stamped.
	msgs := a.stored(t)
	if len(msgs) != 3 {
		t.Fatalf("stored %d, want 3", len(msgs))
	}
	for _, m := range msgs {
		if ev := decode(t, m); ev.GetTenant() != "demo" || ev.GetReceivedAt() == nil {
			t.Fatalf("stored %v not stamped", ev)
		}
	}
}

func TestGRPCRefusesAnEventTooLargeForJetStream(t *testing.T) {
	t.Parallel()
	g := newGRPCAPI(t)
	big := &journeyv1.JourneyEvent{Id: "big", Type: "wishlist.added", Customer: &journeyv1.Customer{CustomerId: "c"},
		Properties: &structpb.Struct{Fields: map[string]*structpb.Value{"pad": structpb.NewStringValue(strings.Repeat("a", 1<<20))}}}
	_, err := g.client.PublishEvent(withKey(t, demoKey), &ingestv1.PublishEventRequest{Event: big})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a 1 MiB event = %v, want INVALID_ARGUMENT (sending it again would never help)", err)
	}
}
