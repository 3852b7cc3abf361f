package ports_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
	"github.com/bazgasht/bazgasht/services/ingest/internal/ports"
)

const (
	demoKey       = "bzk_demo_test_key"
	tightKey      = "bzk_tight_test_key"
	shopifySecret = "shpss_test_secret"
	wooSecret     = "wc_test_secret"
)

// api is the ingest HTTP API over a real in-process nats-server.
type api struct {
	url  string
	nats *natstest.Server
	grpc *ports.GRPC
}

func newAPI(t *testing.T) *api {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Ingest(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	dir, err := tenant.NewDirectory([]*tenant.Tenant{
		{ID: "demo", KeyHashes: [][32]byte{tenant.HashKey(demoKey)}, ShopifySecret: shopifySecret, WooCommerceSecret: wooSecret, RatePerSecond: 10000, Burst: 20000,
			PhoneCountryCode: "98"},
		{ID: "tight", KeyHashes: [][32]byte{tenant.HashKey(tightKey)}, RatePerSecond: 1, Burst: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := adapters.NewJourneyPublisher(srv.NC, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.NewPublishEventsHandler(pub, adapters.NewRateLimiter(time.Now), time.Now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	m := ports.NewMetrics(prometheus.NewRegistry())
	hp, err := ports.NewHTTP(h, dir, ports.Limits{EventBytes: 64 << 10, BatchBytes: 1 << 20, RetryAfter: 2 * time.Second}, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := ports.NewGRPC(h, dir, 2*time.Second, m)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(hp.Handler())
	t.Cleanup(ts.Close)
	return &api{url: ts.URL, nats: srv, grpc: gp}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *api) post(t *testing.T, path, key, contentType, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// stored reads every message of the JOURNEY stream.
func (a *api) stored(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := a.nats.JS.Stream(ctx, topology.Journey)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func decode(t *testing.T, m *jetstream.RawStreamMsg) *journeyv1.JourneyEvent {
	t.Helper()
	ev := &journeyv1.JourneyEvent{}
	if err := proto.Unmarshal(m.Data, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

const orderPlaced = `{"id":"evt-1001","type":"order.placed","customer":{"customer_id":"c-42","email":"sara@example.com"},
 "occurred_at":"2026-11-20T10:00:00+03:30",
 "order_placed":{"order_id":"1001","total":{"currency":"IRT","amount":"1250000"}}}`

func TestPostEventStoresItOnceInJetStream(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.post(t, "/v1/events", demoKey, "application/json", orderPlaced)
	if r.status != http.StatusAccepted || r.body["status"] != "accepted" || r.body["id"] != "evt-1001" {
		t.Fatalf("first post = %d %s, want 202 accepted", r.status, r.raw)
	}
	r = a.post(t, "/v1/events", demoKey, "application/json; charset=utf-8", orderPlaced)
	if r.status != http.StatusOK || r.body["status"] != "duplicate" {
		t.Fatalf("second post = %d %s, want 200 duplicate", r.status, r.raw)
	}

	msgs := a.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("JOURNEY holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "cx.demo.journey.order.placed" || m.Header.Get("Nats-Msg-Id") != "demo:evt-1001" {
		t.Fatalf("stored on %q with msg id %q", m.Subject, m.Header.Get("Nats-Msg-Id"))
	}
	ev := decode(t, m)
	if ev.GetTenant() != "demo" || ev.GetSource() != "api" || ev.GetReceivedAt() == nil {
		t.Fatalf("stored event not stamped: tenant %q source %q received %v", ev.GetTenant(), ev.GetSource(), ev.GetReceivedAt())
	}
	if got := ev.GetOrderPlaced().GetTotal(); got.GetAmount() != "1250000" || got.GetCurrency() != "IRT" {
		t.Fatalf("total = %v, want exact 1250000 IRT", got)
	}
	if want := time.Date(2026, 11, 20, 6, 30, 0, 0, time.UTC); !ev.GetOccurredAt().AsTime().Equal(want) {
		t.Fatalf("occurred_at = %v, want %v", ev.GetOccurredAt().AsTime(), want)
	}
}

func TestPostEventWithoutOccurredAtUsesReceiveTime(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.post(t, "/v1/events", demoKey, "application/json", `{"id":"v1","type":"product.viewed","customer":{"anonymous_id":"a-1"},"product_viewed":{"product":{"product_id":"p-7"}}}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("post = %d %s", r.status, r.raw)
	}
	ev := decode(t, a.stored(t)[0])
	if !ev.GetOccurredAt().AsTime().Equal(ev.GetReceivedAt().AsTime()) {
		t.Fatalf("occurred_at %v != received_at %v", ev.GetOccurredAt().AsTime(), ev.GetReceivedAt().AsTime())
	}
}

func TestRequestsThatAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	big := `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"properties":{"pad":"` + strings.Repeat("a", 70<<10) + `"}}`
	cases := []struct {
		name, path, key, ctype, body string
		status                       int
		code, field                  string
	}{
		{"no key", "/v1/events", "", "application/json", orderPlaced, 401, "unauthenticated", ""},
		{"wrong key", "/v1/events", "bzk_wrong", "application/json", orderPlaced, 401, "unauthenticated", ""},
		{"form content type", "/v1/events", demoKey, "application/x-www-form-urlencoded", orderPlaced, 415, "unsupported_media_type", ""},
		{"no content type", "/v1/events", demoKey, "", orderPlaced, 415, "unsupported_media_type", ""},
		{"event over 64 KiB", "/v1/events", demoKey, "application/json", big, 413, "too_large", ""},
		{"missing customer", "/v1/events", demoKey, "application/json", `{"id":"x","type":"wishlist.added"}`, 400, "invalid_event", "customer"},
		{"unknown field", "/v1/events", demoKey, "application/json", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"colour":1}`, 400, "invalid_event", "colour"},
		{"payload mismatch", "/v1/events", demoKey, "application/json", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"},"order_paid":{"order_id":"1"}}`, 400, "invalid_event", "order_paid"},
		{"tenant in body is another", "/v1/events", demoKey, "application/json", `{"id":"x","tenant":"tight","type":"wishlist.added","customer":{"customer_id":"c"}}`, 400, "invalid_event", "tenant"},
		{"batch not an object", "/v1/events:batch", demoKey, "application/json", `[1]`, 400, "invalid_batch", "body"},
		{"batch events not an array", "/v1/events:batch", demoKey, "application/json", `{"events":{"id":"x"}}`, 400, "invalid_batch", "events"},
		{"batch with another field", "/v1/events:batch", demoKey, "application/json", `{"events":[{}],"tenant":"demo"}`, 400, "invalid_batch", "tenant"},
		{"batch not JSON", "/v1/events:batch", demoKey, "application/json", `{"events":[`, 400, "invalid_batch", "body"},
		{"batch empty", "/v1/events:batch", demoKey, "application/json", `{"events":[]}`, 400, "invalid_batch", "events"},
		{"batch of 1001", "/v1/events:batch", demoKey, "application/json", `{"events":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, 413, "too_large", "events"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := a.post(t, tc.path, tc.key, tc.ctype, tc.body)
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.raw, tc.status)
			}
			e, _ := r.body["error"].(map[string]any)
			if e["code"] != tc.code {
				t.Fatalf("error code = %v, want %s (%s)", e["code"], tc.code, r.raw)
			}
			if tc.field != "" && !strings.Contains(r.raw, `"field":"`+tc.field+`"`) {
				t.Fatalf("body does not name field %q: %s", tc.field, r.raw)
			}
			if strings.Contains(r.raw, "Go value") || strings.Contains(r.raw, "RawMessage") {
				t.Fatalf("the answer speaks Go, not the API: %s", r.raw)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if n := len(a.stored(t)); n != 0 {
		t.Fatalf("refused requests stored %d events", n)
	}
}

func TestBatchReportsEachEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.post(t, "/v1/events", demoKey, "application/json", orderPlaced)
	body := `{"events":[
	 {"id":"b-1","type":"product.viewed","customer":{"anonymous_id":"a1"},"product_viewed":{"product":{"product_id":"p1"}}},
	 ` + orderPlaced + `,
	 {"id":"b-3","type":"order.placed","customer":{"customer_id":"c"},"order_placed":{"order_id":"9","total":{"currency":"IRT","amount":"1,000"}}},
	 {"id":"b-4","type":"wishlist.added","customer":{"customer_id":"c"},"properties":{"product_id":"p1"}},
	 {"id":"b-1","type":"product.viewed","customer":{"anonymous_id":"a1"},"product_viewed":{"product":{"product_id":"p1"}}}
	]}`
	r := a.post(t, "/v1/events:batch", demoKey, "application/json", body)
	if r.status != http.StatusOK {
		t.Fatalf("batch = %d %s", r.status, r.raw)
	}
	var got struct {
		Accepted, Duplicates, Rejected int
		Results                        []struct {
			Index  int
			ID     string
			Status string
			Errors []struct{ Field, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"accepted", "duplicate", "rejected", "accepted", "duplicate"}
	for i, w := range want {
		if got.Results[i].Status != w || got.Results[i].Index != i {
			t.Fatalf("result %d = %+v, want %s", i, got.Results[i], w)
		}
	}
	if e := got.Results[2].Errors; len(e) != 1 || e[0].Field != "order_placed.total.amount" {
		t.Fatalf("rejected event's errors = %+v, want order_placed.total.amount", e)
	}
	if got.Accepted != 2 || got.Duplicates != 2 || got.Rejected != 1 {
		t.Fatalf("counts = %+v", got)
	}
	if n := len(a.stored(t)); n != 3 {
		t.Fatalf("JOURNEY holds %d, want 3 (the first post and two new)", n)
	}
}

func TestBatchOfOnlyInvalidEventsIs400(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.post(t, "/v1/events:batch", demoKey, "application/json", `{"events":[{"id":"x"},{"type":"a.b"}]}`)
	if r.status != http.StatusBadRequest || r.body["rejected"].(float64) != 2 {
		t.Fatalf("batch = %d %s, want 400 with 2 rejected", r.status, r.raw)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var events []string
	for i := range 1000 {
		events = append(events, fmt.Sprintf(`{"id":"r-%d","type":"wishlist.added","customer":{"customer_id":"c"}}`, i))
	}
	batch := `{"events":[` + strings.Join(events, ",") + `]}`
	if r := a.post(t, "/v1/events:batch", tightKey, "application/json", batch); r.status != http.StatusOK {
		t.Fatalf("first batch within burst = %d %.300s", r.status, r.raw)
	}
	r := a.post(t, "/v1/events", tightKey, "application/json", `{"id":"r-x","type":"wishlist.added","customer":{"customer_id":"c"}}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit = %d Retry-After %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	// Another tenant is not affected.
	if r := a.post(t, "/v1/events", demoKey, "application/json", orderPlaced); r.status != http.StatusAccepted {
		t.Fatalf("other tenant = %d", r.status)
	}
}

func TestBrokerDownAnswers503AndNothingIsAcknowledged(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.nats.Stop()
	start := time.Now()
	r := a.post(t, "/v1/events", demoKey, "application/json", orderPlaced)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2" {
		t.Fatalf("with NATS down = %d Retry-After %q %s, want 503 Retry-After 2", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answer took %v; it must come within the publish timeout, not hang", d)
	}
	b := a.post(t, "/v1/events:batch", demoKey, "application/json", `{"events":[`+orderPlaced+`]}`)
	if b.status != http.StatusServiceUnavailable || b.body["unavailable"].(float64) != 1 {
		t.Fatalf("batch with NATS down = %d %s", b.status, b.raw)
	}
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

const shopifyOrder = `{"id":5001,"email":"sara@example.com","created_at":"2026-11-20T14:03:11+03:30","currency":"IRT",
 "total_price":"1250000.00","subtotal_price":"1250000.00","total_tax":"0.00","total_discounts":"0.00",
 "customer":{"id":7012345678901234567,"email":"sara@example.com"},
 "line_items":[{"product_id":42,"variant_id":43,"sku":"TEA-1","title":"Tea","quantity":1,"price":"1250000.00"}]}`

func TestShopifyWebhook(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := []byte(shopifyOrder)
	headers := func(sig string) []string {
		return []string{"X-Shopify-Topic", "orders/create", "X-Shopify-Webhook-Id", "wh-1", "X-Shopify-Hmac-Sha256", sig}
	}
	if r := a.post(t, "/v1/webhooks/shopify/demo", "", "application/json", string(body), headers(sign("wrong", body))...); r.status != http.StatusUnauthorized {
		t.Fatalf("bad signature = %d %s, want 401", r.status, r.raw)
	}
	if r := a.post(t, "/v1/webhooks/shopify/nosuch", "", "application/json", string(body), headers(sign(shopifySecret, body))...); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown tenant = %d, want 401", r.status)
	}
	if n := len(a.stored(t)); n != 0 {
		t.Fatalf("refused webhooks stored %d events", n)
	}
	if r := a.post(t, "/v1/webhooks/shopify/demo", "", "application/json", string(body), headers(sign(shopifySecret, body))...); r.status != http.StatusAccepted {
		t.Fatalf("signed webhook = %d %s, want 202", r.status, r.raw)
	}
	// Shopify retries with the same webhook id: one event.
	if r := a.post(t, "/v1/webhooks/shopify/demo", "", "application/json", string(body), headers(sign(shopifySecret, body))...); r.status != http.StatusOK || r.body["status"] != "duplicate" {
		t.Fatalf("retried webhook = %d %s, want 200 duplicate", r.status, r.raw)
	}
	msgs := a.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("stored %d, want 1", len(msgs))
	}
	ev := decode(t, msgs[0])
	if ev.GetType() != "order.placed" || ev.GetSource() != "shopify" || ev.GetOrderPlaced().GetTotal().GetAmount() != "1250000" ||
		ev.GetCustomer().GetCustomerId() != "7012345678901234567" {
		t.Fatalf("stored %v", ev)
	}
	r := a.post(t, "/v1/webhooks/shopify/demo", "", "application/json", `{}`, "X-Shopify-Topic", "products/create", "X-Shopify-Webhook-Id", "wh-2", "X-Shopify-Hmac-Sha256", sign(shopifySecret, []byte(`{}`)))
	if r.status != http.StatusOK || r.body["status"] != "ignored" {
		t.Fatalf("unmapped topic = %d %s, want 200 ignored", r.status, r.raw)
	}
	// A signed delivery that cannot become an event is refused with 200:
	// a 4xx would have Shopify resend it for hours, then disable the
	// webhook and with it every later order. The answer names the reason.
	for i, bad := range []struct{ body, want string }{
		{`{"id":5002,"currency":"IRT","total_price":"1000","created_at":"2026-11-20T14:03:11+03:30"}`, "customer"},
		{`{"id":5003,"email":"sara@example.com","currency":"IRT","total_price":"a lot","created_at":"2026-11-20T14:03:11+03:30"}`, "total"},
		{`{not json`, ""},
	} {
		r := a.post(t, "/v1/webhooks/shopify/demo", "", "application/json", bad.body, "X-Shopify-Topic", "orders/create",
			"X-Shopify-Webhook-Id", fmt.Sprint("wh-bad-", i), "X-Shopify-Hmac-Sha256", sign(shopifySecret, []byte(bad.body)))
		if r.status != http.StatusOK || r.body["status"] != "rejected" || !strings.Contains(r.raw, bad.want) || !strings.Contains(r.raw, `"error"`) {
			t.Errorf("unusable order %d = %d %s, want 200 rejected naming %q", i, r.status, r.raw, bad.want)
		}
	}
	if n := len(a.stored(t)); n != 1 {
		t.Fatalf("stored %d events after refused deliveries, want still 1", n)
	}
}

func TestWooCommerceWebhook(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ping := []byte("webhook_id=17")
	if r := a.post(t, "/v1/webhooks/woocommerce/demo", "", "application/x-www-form-urlencoded", string(ping)); r.status != http.StatusOK {
		t.Fatalf("WooCommerce activation ping = %d %s, want 200", r.status, r.raw)
	}
	body := []byte(`{"id":77,"status":"processing","currency":"IRT","total":"480000","customer_id":12,
	 "date_created_gmt":"2026-11-20T10:33:11","date_modified_gmt":"2026-11-20T10:35:00","date_paid_gmt":"2026-11-20T10:35:00",
	 "billing":{"email":"ali@example.com","phone":"+989121234567"},"line_items":[{"product_id":5,"name":"Saffron","quantity":2,"price":240000}]}`)
	hdr := []string{"X-WC-Webhook-Topic", "order.created", "X-WC-Webhook-Delivery-ID", "d-1"}
	if r := a.post(t, "/v1/webhooks/woocommerce/demo", "", "application/json", string(body), append(hdr, "X-WC-Webhook-Signature", sign("nope", body))...); r.status != http.StatusUnauthorized {
		t.Fatalf("bad signature = %d, want 401", r.status)
	}
	if r := a.post(t, "/v1/webhooks/woocommerce/demo", "", "application/json", string(body), append(hdr, "X-WC-Webhook-Signature", sign(wooSecret, body))...); r.status != http.StatusAccepted {
		t.Fatalf("signed = %d %s, want 202", r.status, r.raw)
	}
	msgs := a.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("stored %d, want 1", len(msgs))
	}
	if ev := decode(t, msgs[0]); ev.GetType() != "order.placed" || ev.GetSource() != "woocommerce" || ev.GetOrderPlaced().GetTotal().GetAmount() != "480000" {
		t.Fatalf("stored %v", ev)
	}
}

func TestBodyIsNotTrustedForTenant(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.post(t, "/v1/events", demoKey, "application/json", `{"id":"t1","tenant":"demo","type":"wishlist.added","customer":{"customer_id":"c"}}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	if m := a.stored(t)[0]; !bytes.HasPrefix([]byte(m.Subject), []byte("cx.demo.")) {
		t.Fatalf("subject %s", m.Subject)
	}
}

// A shop's national phone numbers, in Persian digits or with spaces, are
// stored in E.164 when the tenant names its country code, so the customer
// is one identity whichever system sent the number; a tenant without one
// has its numbers stored as sent (Persian digits in ASCII), so nothing it
// stored before is keyed differently.
func TestPhonesAreStoredInE164(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for key, phone := range map[string]string{demoKey: "۰۹۱۲ ۱۲۳ ۴۵۶۷", tightKey: "۰۹۱۲-123-4567"} {
		body := `{"id":"ph-1","type":"wishlist.added","customer":{"phone":"` + phone + `"}}`
		if r := a.post(t, "/v1/events", key, "application/json", body); r.status != http.StatusAccepted {
			t.Fatalf("%s = %d %s", phone, r.status, r.raw)
		}
	}
	got := map[string]string{}
	for _, m := range a.stored(t) {
		ev := decode(t, m)
		got[ev.GetTenant()] = ev.GetCustomer().GetPhone()
	}
	if got["demo"] != "+989121234567" || got["tight"] != "0912-123-4567" {
		t.Fatalf("stored phones %v, want demo +989121234567 and tight 0912-123-4567", got)
	}
}
