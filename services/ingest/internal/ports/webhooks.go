package ports

import (
	"bytes"
	"cmp"
	"errors"
	"net/http"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
	"github.com/bazgasht/bazgasht/services/ingest/internal/ports/shopwebhook"
)

// webhook describes one shop platform's webhook conventions.
type webhook struct {
	source      string
	secret      func(*tenant.Tenant) string
	signature   string // header holding the body's HMAC
	topic       string // header naming the topic
	delivery    string // header with the platform's idempotency id
	verify      func(body []byte, secret, sig string) bool
	mapToEvent  func(topic, delivery string, body []byte) (*journeyv1.JourneyEvent, error)
	isHandshake func(r *http.Request, body []byte) bool
}

var (
	shopify = webhook{
		source:    "shopify",
		secret:    func(t *tenant.Tenant) string { return t.ShopifySecret },
		signature: "X-Shopify-Hmac-Sha256", topic: "X-Shopify-Topic", delivery: "X-Shopify-Webhook-Id",
		verify: shopwebhook.VerifyShopify, mapToEvent: shopwebhook.MapShopify,
		isHandshake: func(*http.Request, []byte) bool { return false },
	}
	wooCommerce = webhook{
		source:    "woocommerce",
		secret:    func(t *tenant.Tenant) string { return t.WooCommerceSecret },
		signature: "X-WC-Webhook-Signature", topic: "X-WC-Webhook-Topic", delivery: "X-WC-Webhook-Delivery-ID",
		verify: shopwebhook.VerifyWooCommerce, mapToEvent: shopwebhook.MapWooCommerce,
		// WooCommerce pings a new webhook with a form body "webhook_id=N" and
		// no topic; it activates the webhook only on a 2xx answer.
		isHandshake: func(r *http.Request, body []byte) bool {
			return r.Header.Get("X-WC-Webhook-Topic") == "" && bytes.HasPrefix(body, []byte("webhook_id="))
		},
	}
)

func (h *HTTP) postShopify(w http.ResponseWriter, r *http.Request) { h.serveWebhook(w, r, shopify) }

func (h *HTTP) postWooCommerce(w http.ResponseWriter, r *http.Request) {
	h.serveWebhook(w, r, wooCommerce)
}

// serveWebhook verifies a shop platform's signature over the raw body with
// the tenant's secret, maps the topic to a journey event and stores it. The
// platform's delivery id becomes the event id, so its retries are duplicates.
// An unknown tenant and a bad signature look the same: 401.
func (h *HTTP) serveWebhook(w http.ResponseWriter, r *http.Request, wh webhook) {
	t, ok := h.tenants.ByID(r.PathValue("tenant"))
	body, readOK := h.readRaw(w, r)
	if !readOK {
		return
	}
	if !ok || wh.secret(t) == "" || !wh.verify(body, wh.secret(t), r.Header.Get(wh.signature)) {
		if ok && wh.isHandshake(r, body) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		h.fail(w, http.StatusUnauthorized, "bad_signature", "the "+wh.signature+" header does not match the body signed with this tenant's "+wh.source+" secret", nil)
		return
	}
	ev, err := wh.mapToEvent(r.Header.Get(wh.topic), r.Header.Get(wh.delivery), body)
	if errors.Is(err, shopwebhook.ErrUnsupportedTopic) {
		// Answer 2xx so the platform does not retry or disable the webhook.
		h.metrics.Events.WithLabelValues(wh.source, "ignored").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": err.Error()})
		return
	}
	if err != nil {
		h.refuseWebhook(w, r, wh, t.ID, "invalid_webhook", err.Error(), nil)
		return
	}
	results := h.publish(w, r, app.PublishEvents{Tenant: t, Source: wh.source, Events: []app.Input{{Event: ev}}})
	if results == nil {
		return
	}
	if res := results[0]; res.Outcome == app.Rejected { // counted as a rejection by publish
		h.refuseWebhook(w, r, wh, t.ID, "", res.Errors.Error(), res.Errors)
		return
	}
	h.answerOne(w, results[0])
}

// refuseWebhook answers a verified delivery that cannot become a journey
// event (an order without a customer, an amount that is not a number). A
// 4xx would only have the platform send the same body again for hours and
// then disable the shop's webhook, stopping every later order too; so the
// answer is 200 with status "rejected" and the reason naming the field,
// the refusal is counted (bazgasht_ingest_events_total{outcome="rejected"})
// and logged with the delivery id, nothing of the order in it. code, when
// set, is also counted as a rejection reason.
func (h *HTTP) refuseWebhook(w http.ResponseWriter, r *http.Request, wh webhook, tenantID, code, msg string, fields journey.Errors) {
	if code != "" {
		h.metrics.Rejections.WithLabelValues(code).Inc()
		h.metrics.Events.WithLabelValues(wh.source, "rejected").Inc()
	}
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Field)
	}
	h.log.WarnContext(r.Context(), "webhook delivery refused", "source", wh.source, "tenant", tenantID,
		"delivery", r.Header.Get(wh.delivery), "topic", r.Header.Get(wh.topic), "fields", names)
	var e struct {
		Status string `json:"status"`
		apiError
	}
	e.Status = "rejected"
	e.Error.Code, e.Error.Message, e.Error.Fields = cmp.Or(code, "invalid_event"), msg, fields
	writeJSON(w, http.StatusOK, e)
}

// readRaw reads a webhook body of any content type; a large order may
// exceed the single-event limit, so webhooks get the batch limit.
func (h *HTTP) readRaw(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, h.limits.BatchBytes)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, http.StatusRequestEntityTooLarge, "too_large", "the webhook body is too large", nil)
		} else {
			h.fail(w, http.StatusBadRequest, "unreadable_body", err.Error(), nil)
		}
		return nil, false
	}
	return buf.Bytes(), true
}
