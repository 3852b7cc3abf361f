package adapters

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// WebhookProvider posts messages to one HTTP endpoint — a push provider's
// bridge, a chat app, the shop's own system — signed with HMAC-SHA256:
//
//	Bazgasht-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//	Idempotency-Key: <tenant>:<notification id>:<channel>
//
// The receiver checks the signature (and that t is recent) and keeps the
// idempotency key to ignore a repeat. 2xx accepts; 408, 429 and 5xx are
// transient; any other 4xx is permanent.
type WebhookProvider struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var _ app.Provider = (*WebhookProvider)(nil)

// NewWebhookProvider posts to url signing with secret.
func NewWebhookProvider(url string, secret []byte, timeout time.Duration, now func() time.Time) (*WebhookProvider, error) {
	if url == "" || len(secret) == 0 {
		return nil, errors.New("webhook provider: a URL and a secret are required")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &WebhookProvider{url: url, secret: secret, now: now,
		client: &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(tr)}}, nil
}

// Name implements app.Provider.
func (w *WebhookProvider) Name() string { return "webhook" }

// ReportsDelivery implements app.Provider: no delivery reports.
func (w *WebhookProvider) ReportsDelivery() bool { return false }

// Idempotent implements app.Provider: receivers are asked to deduplicate
// by Idempotency-Key.
func (w *WebhookProvider) Idempotent() bool { return true }

// WebhookMessage is the JSON body of a webhook message.
type WebhookMessage struct {
	NotificationID string                `json:"notification_id"`
	Tenant         string                `json:"tenant"`
	Channel        notification.Channel  `json:"channel"`
	Customer       notification.Customer `json:"customer"`
	Locale         string                `json:"locale,omitempty"`
	Subject        string                `json:"subject,omitempty"`
	Text           string                `json:"text"`
	HTML           string                `json:"html,omitempty"`
}

// SignWebhook returns the Bazgasht-Signature header value for body at t.
func SignWebhook(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Send implements app.Provider.
func (w *WebhookProvider) Send(ctx context.Context, msg app.Message) (app.Receipt, error) {
	body, err := json.Marshal(WebhookMessage{NotificationID: msg.NotificationID, Tenant: msg.Tenant, Channel: msg.Channel, Customer: msg.Customer,
		Locale: msg.Content.Locale, Subject: msg.Content.Subject, Text: msg.Content.Text, HTML: msg.Content.HTML})
	if err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Bazgasht-Signature", SignWebhook(w.secret, body, w.now()))
	req.Header.Set("Idempotency-Key", msg.IdempotencyKey)
	resp, err := w.client.Do(req)
	if err != nil {
		return app.Receipt{}, fmt.Errorf("webhook: %w", errors.Unwrap(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	detail := fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(answer, &id)
		return app.Receipt{MessageID: id.ID, Detail: detail}, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return app.Receipt{}, &app.ProviderError{Detail: "webhook: " + detail}
	default:
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "webhook: " + detail}
	}
}
