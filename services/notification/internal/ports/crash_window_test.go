package ports_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// TestCrashWindow plants what a worker killed during the provider call
// leaves behind — a ledger record "sending", its lease running out — and
// checks both answers: a provider that deduplicates is called again with
// the same idempotency key (the receiver keeps one); SMTP, which cannot, is
// not called again and the notification fails saying why.
func TestCrashWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "crashwin"
	ctx := context.Background()
	ledger, err := adapters.NewLedgerKV(ctx, e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: tenant, Template: &notificationv1.Template{TemplateId: "ping", DefaultCategory: txn,
		Contents: []*notificationv1.TemplateContent{{Channel: webhook, Locale: "en", TextBody: "ping"}}}}); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	plant := func(id, tpl string, ch notification.Channel, provider string, c notification.Customer, key string) *notificationv1.SendRequest {
		req := notification.Request{Tenant: tenant, ID: id, Customer: c, TemplateID: tpl, Channel: ch, Category: notification.Transactional}
		n := &notification.Notification{Request: req, Category: notification.Transactional, Status: notification.Sending, Channel: ch, TemplateVersion: 1,
			LeaseUntil: now.Add(500 * time.Millisecond), CreatedAt: now, UpdatedAt: now,
			Attempts: []notification.Attempt{{Channel: ch, Provider: provider, At: now, Key: key}}}
		if _, err := ledger.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		pr, err := adapters.RequestToProto(&req)
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	// The webhook call went through before the crash: the receiver has it.
	key := tenant + ":w-1:webhook"
	e.hook.mu.Lock()
	e.hook.got[key] = adapters.WebhookMessage{Tenant: tenant, NotificationID: "w-1"}
	e.hook.perID[tenant+"/w-1"] = 1
	e.hook.mu.Unlock()
	e.enqueue(t, plant("w-1", "ping", notification.Webhook, "webhook", notification.Customer{CustomerID: "k1"}, key), "")
	e.enqueue(t, plant("m-1", "winback", notification.Email, "smtp", notification.Customer{Email: "m1@example.com"}, tenant+":m-1:email"), "")

	n := e.status(t, tenant, "w-1", notificationv1.Status_STATUS_SENT)
	if len(n.GetAttempts()) != 2 || !strings.Contains(n.GetAttempts()[0].GetDetail(), "same idempotency key") {
		t.Fatalf("attempts %v", n.GetAttempts())
	}
	if delivered, dup, repeats := e.hook.counts(); delivered != 1 || dup != 0 || repeats != 1 {
		t.Fatalf("receiver: %d delivered, %d duplicated, %d repeats; want 1, 0, 1", delivered, dup, repeats)
	}
	n = e.status(t, tenant, "m-1", notificationv1.Status_STATUS_FAILED)
	if !strings.HasPrefix(n.GetReason(), "outcome unknown") || len(e.mail.to("m1@example.com")) != 0 {
		t.Fatalf("reason %q, %d mails; want outcome unknown and no second mail", n.GetReason(), len(e.mail.to("m1@example.com")))
	}
	ev := e.eventOf(t, tenant, "m-1", "notification.failed")
	if ev.GetNotificationFailed().GetChannel() != journeyv1.Channel_CHANNEL_EMAIL {
		t.Fatalf("failed event %v", ev.GetNotificationFailed())
	}
}

// A gateway whose delivery report arrives before the send is recorded
// (its answer indexed, the record still "sending") is told to send it again
// (503), not thanked and forgotten; once the send is recorded, the report
// counts.
func TestDeliveryReportBeforeTheSendIsRecordedComesAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "early-dlr"
	ctx := context.Background()
	ledger, err := adapters.NewLedgerKV(ctx, e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	req := notification.Request{Tenant: tenant, ID: "e-1", Customer: notification.Customer{Phone: "+989120001111"}, TemplateID: "winback", Channel: notification.SMS, Category: notification.Transactional}
	n := &notification.Notification{Request: req, Category: notification.Transactional, Status: notification.Sending, Channel: notification.SMS, TemplateVersion: 1,
		LeaseUntil: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now,
		Attempts: []notification.Attempt{{Channel: notification.SMS, Provider: "sms-gateway", At: now, Key: tenant + ":e-1:sms", ProviderMessageID: "777001"}}}
	rev, err := ledger.Create(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.IndexProviderMessage(ctx, "sms-gateway", "777001", tenant, "e-1"); err != nil {
		t.Fatal(err)
	}
	post := func() int {
		resp, err := http.PostForm(e.web.URL+"/sms/delivery/"+callbackKey, url.Values{"messageid": {"777001"}, "status": {"10"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(); st != http.StatusServiceUnavailable {
		t.Fatalf("report while sending: %d, want 503", st)
	}
	n.Status, n.SentAt, n.LeaseUntil = notification.Sent, now, time.Time{}
	if _, err := ledger.Update(ctx, n, rev); err != nil {
		t.Fatal(err)
	}
	if st := post(); st != http.StatusOK {
		t.Fatalf("report once sent: %d, want 200", st)
	}
	e.status(t, tenant, "e-1", notificationv1.Status_STATUS_DELIVERED)
}
