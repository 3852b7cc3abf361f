package ports_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
)

// TestQuietHoursHoldMarketingUntilMorning: at 23:00 in the customer's own
// zone a marketing message is held — not dropped — until 08:00 there, while
// a transactional one goes at once; moving the clock past 08:00 releases it.
func TestQuietHoursHoldMarketingUntilMorning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "quiet"
	ctx := context.Background()
	// 23:00 in Vancouver is 10:30 next morning in Tehran: the customer's
	// zone decides, not the server's or the default.
	van, _ := time.LoadLocation("America/Vancouver")
	e.clock.Set(time.Date(2026, 11, 25, 23, 0, 0, 0, van))
	c := e.customer(t, tenant, person{id: "nima", phone: "+989121231111", first: "Nima", locale: "fa", tz: "America/Vancouver", preferred: smsCh, consents: []journeyv1.Channel{smsCh}})
	if _, err := e.api.Send(ctx, winback(tenant, "q-mkt", c, 0, mkt)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Send(ctx, winback(tenant, "q-txn", c, 0, txn)); err != nil {
		t.Fatal(err)
	}
	// A ticket's survey is a service message: no one-time code, so it
	// waits for the morning too.
	if _, err := e.api.Send(ctx, winback(tenant, "q-svc", c, 0, notificationv1.Category_CATEGORY_SERVICE)); err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "q-txn", notificationv1.Status_STATUS_SENT)
	e.status(t, tenant, "q-svc", notificationv1.Status_STATUS_HELD)
	held := e.status(t, tenant, "q-mkt", notificationv1.Status_STATUS_HELD)
	wantAt := time.Date(2026, 11, 26, 8, 0, 0, 0, van)
	if !held.GetScheduledAt().AsTime().Equal(wantAt) {
		t.Fatalf("scheduled at %v, want %v", held.GetScheduledAt().AsTime().In(van), wantAt)
	}
	if got := len(e.sms.to("+989121231111")); got != 1 {
		t.Fatalf("%d sms during quiet hours, want only the transactional one", got)
	}
	// The held message waits on the deferred stream, not on the work
	// queue, where it would stand in front of the next one-time code.
	poll.Until(t, 5*time.Second, "the held requests off the work queue", func() bool {
		return pending(t, e, "NOTIFICATION_REQUESTS") == 0 && pending(t, e, "NOTIFICATION_DEFERRED") == 2
	})
	// Still night when they are looked at again at 07:59: nothing goes.
	before := deliveries(t, e)
	e.clock.Set(time.Date(2026, 11, 26, 7, 59, 0, 0, van))
	poll.Until(t, 10*time.Second, "a recheck at 07:59", func() bool { return deliveries(t, e) >= before+2 })
	e.status(t, tenant, "q-mkt", notificationv1.Status_STATUS_HELD)
	e.status(t, tenant, "q-svc", notificationv1.Status_STATUS_HELD)
	if got := len(e.sms.to("+989121231111")); got != 1 {
		t.Fatalf("%d sms at 07:59, want only the transactional one", got)
	}
	e.clock.Set(time.Date(2026, 11, 26, 8, 0, 1, 0, van))
	e.status(t, tenant, "q-mkt", notificationv1.Status_STATUS_SENT)
	e.status(t, tenant, "q-svc", notificationv1.Status_STATUS_SENT)
	if got := len(e.sms.to("+989121231111")); got != 3 {
		t.Fatalf("%d sms after the night, want 3", got)
	}
}

// deliveries counts what the deferred consumer has been handed: each
// recheck of a held request is one more.
func deliveries(t *testing.T, e *env) uint64 {
	t.Helper()
	c, err := e.nats.JS.Consumer(context.Background(), "NOTIFICATION_DEFERRED", "notification-deferred")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.Delivered.Consumer
}

// TestFrequencyCapAcrossChannelsAndRules: the default cap of 3 marketing
// messages a week counts every channel and template; the fourth is
// suppressed with the reason, transactional messages are exempt, and a week
// later there is room again.
func TestFrequencyCapAcrossChannelsAndRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "caps"
	ctx := context.Background()
	c := e.customer(t, tenant, person{id: "leila", phone: "+989121232222", email: "leila@example.com", first: "Leila", locale: "en", preferred: email,
		consents: []journeyv1.Channel{email, smsCh}})
	send := func(id, tpl string, ch journeyv1.Channel, cat notificationv1.Category) {
		req := &notificationv1.SendRequest{Tenant: tenant, NotificationId: id, Customer: c, TemplateId: tpl, Channel: ch, Category: cat,
			Variables: map[string]string{"order_id": "o-1", "product_id": "p", "product_name": "Mug", "product_url": "https://shop.example/mug"}}
		if _, err := e.api.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	send("cap-1", "winback", email, mkt)
	e.status(t, tenant, "cap-1", notificationv1.Status_STATUS_SENT)
	send("cap-2", "back-in-stock", smsCh, mkt)
	e.status(t, tenant, "cap-2", notificationv1.Status_STATUS_SENT)
	send("cap-3", "big-order-thanks", 0, mkt)
	e.status(t, tenant, "cap-3", notificationv1.Status_STATUS_SENT)
	send("cap-4", "viewed-discount", smsCh, mkt)
	n := e.status(t, tenant, "cap-4", notificationv1.Status_STATUS_SUPPRESSED)
	if !strings.HasPrefix(n.GetReason(), "frequency_cap") {
		t.Fatalf("reason %q", n.GetReason())
	}
	ev := e.eventOf(t, tenant, "cap-4", "notification.suppressed")
	if !strings.HasPrefix(ev.GetNotificationSuppressed().GetReason(), "frequency_cap") {
		t.Fatalf("suppressed event %v", ev.GetNotificationSuppressed())
	}
	send("cap-5", "big-order-thanks", smsCh, txn)
	e.status(t, tenant, "cap-5", notificationv1.Status_STATUS_SENT)

	e.clock.Set(e.clock.Now().Add(169 * time.Hour))
	send("cap-6", "winback", email, mkt)
	e.status(t, tenant, "cap-6", notificationv1.Status_STATUS_SENT)
	if got := len(e.mail.to("leila@example.com")) + len(e.sms.to("+989121232222")); got != 5 {
		t.Fatalf("%d messages arrived, want 5 (3 marketing, 1 transactional, 1 the week after)", got)
	}
}

// TestTemplateErrors: a template that does not parse is refused naming the
// field and line; one that fails to render (a missing key) fails that
// notification with the reason, and nothing half filled is sent.
func TestTemplateErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "tpl"
	ctx := context.Background()
	bad := &notificationv1.Template{TemplateId: "promo", Contents: []*notificationv1.TemplateContent{
		{Channel: smsCh, Locale: "fa", TextBody: "سلام {{.Profile.first_name}}"},
		{Channel: email, Locale: "fa", Subject: "s", TextBody: "t", HtmlBody: "<p>\n{{if .Vars.x}}</p>"},
	}}
	_, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: tenant, Template: bad})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "template.contents[1].html_body") || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("create = %v, want INVALID_ARGUMENT naming template.contents[1].html_body line 2", err)
	}
	good := &notificationv1.Template{TemplateId: "promo", DefaultCategory: txn, Contents: []*notificationv1.TemplateContent{
		{Channel: smsCh, Locale: "fa", TextBody: "سلام {{.Profile.first_name}}، کد {{.Vars.code}} تا {{jalali .Vars.until}}؛ مبلغ {{toman .Vars.amount}}"},
	}}
	if _, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: tenant, Template: good}); err != nil {
		t.Fatal(err)
	}
	c := e.customer(t, tenant, person{id: "ali", phone: "+989121233333", first: "علی", locale: "fa", preferred: smsCh})
	send := func(id string, vars map[string]string) {
		if _, err := e.api.Send(ctx, &notificationv1.SendRequest{Tenant: tenant, NotificationId: id, Customer: c, TemplateId: "promo", Variables: vars}); err != nil {
			t.Fatal(err)
		}
	}
	send("t-missing", map[string]string{"until": "2026-12-21T10:00:00Z", "amount": "1250000"})
	n := e.status(t, tenant, "t-missing", notificationv1.Status_STATUS_FAILED)
	if !strings.Contains(n.GetReason(), `map has no entry for key "code"`) {
		t.Fatalf("reason %q", n.GetReason())
	}
	send("t-badtime", map[string]string{"code": "X", "until": "tomorrow", "amount": "1250000"})
	n = e.status(t, tenant, "t-badtime", notificationv1.Status_STATUS_FAILED)
	if !strings.Contains(n.GetReason(), "jalali") {
		t.Fatalf("reason %q", n.GetReason())
	}
	if got := e.sms.to("+989121233333"); len(got) != 0 {
		t.Fatalf("a failed template sent %+v", got)
	}
	send("t-ok", map[string]string{"code": "BACK10", "until": "2026-12-21T10:00:00Z", "amount": "1250000"})
	e.status(t, tenant, "t-ok", notificationv1.Status_STATUS_SENT)
	got := e.sms.to("+989121233333")
	if len(got) != 1 || got[0].Message != "سلام علی، کد BACK10 تا 1405/09/30؛ مبلغ ۱٬۲۵۰٬۰۰۰ تومان" {
		t.Fatalf("sms %+v", got)
	}
	ev := e.eventOf(t, tenant, "t-missing", "notification.failed")
	if !strings.Contains(ev.GetNotificationFailed().GetReason(), "code") {
		t.Fatalf("failed event %v", ev.GetNotificationFailed())
	}
}

// TestRetriesWithBackoff: two 503s then success is one message delivered
// after three attempts, spaced by growing delays; a 410 is permanent and is
// not retried.
func TestRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"NOTIFICATION_RETRY_BASE": "100ms", "NOTIFICATION_RETRY_MAX": "1s"})
	const tenant = "retry"
	ctx := context.Background()
	hookOnly := &notificationv1.Template{TemplateId: "ping", DefaultCategory: txn, Contents: []*notificationv1.TemplateContent{
		{Channel: webhook, Locale: "en", TextBody: "ping {{.Vars.n}}"}}}
	if _, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: tenant, Template: hookOnly}); err != nil {
		t.Fatal(err)
	}
	c := &journeyv1.Customer{CustomerId: "shop-user-1"}
	e.hook.failWith(503, 503)
	start := time.Now()
	if _, err := e.api.Send(ctx, &notificationv1.SendRequest{Tenant: tenant, NotificationId: "r-1", Customer: c, TemplateId: "ping", Variables: map[string]string{"n": "1"}}); err != nil {
		t.Fatal(err)
	}
	n := e.status(t, tenant, "r-1", notificationv1.Status_STATUS_SENT)
	took := time.Since(start)
	at := n.GetAttempts()
	if len(at) != 3 || at[0].GetOutcome() != notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_TRANSIENT_ERROR ||
		at[1].GetOutcome() != notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_TRANSIENT_ERROR || at[2].GetOutcome() != notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_ACCEPTED {
		t.Fatalf("attempts %v, want transient, transient, accepted", at)
	}
	// Backoff with equal jitter: the first wait is 50-100ms, the second
	// 100-200ms, so at least 150ms in all.
	if took < 150*time.Millisecond {
		t.Fatalf("three attempts took %v: no backoff", took)
	}
	if d, _, _ := e.hook.counts(); d != 1 || e.hook.bad != 0 {
		t.Fatalf("%d messages delivered, %d badly signed; want 1 and none", d, e.hook.bad)
	}
	e.hook.failWith(410)
	if _, err := e.api.Send(ctx, &notificationv1.SendRequest{Tenant: tenant, NotificationId: "r-2", Customer: c, TemplateId: "ping", Variables: map[string]string{"n": "2"}}); err != nil {
		t.Fatal(err)
	}
	n = e.status(t, tenant, "r-2", notificationv1.Status_STATUS_FAILED)
	if len(n.GetAttempts()) != 1 || n.GetReason() != "webhook: HTTP 410" {
		t.Fatalf("attempts %v reason %q; want one permanent attempt", n.GetAttempts(), n.GetReason())
	}
	// The SMS gateway busy once (502) is retried too.
	e.sms.failNext.Store(1)
	if _, err := e.api.Send(ctx, &notificationv1.SendRequest{Tenant: tenant, NotificationId: "r-3", Customer: &journeyv1.Customer{Phone: "+989121235555"},
		TemplateId: "winback", Channel: smsCh, Category: txn}); err != nil {
		t.Fatal(err)
	}
	n = e.status(t, tenant, "r-3", notificationv1.Status_STATUS_SENT)
	if len(n.GetAttempts()) != 2 || n.GetAttempts()[0].GetDetail() != "sms gateway: status 502" || len(e.sms.to("+989121235555")) != 1 {
		t.Fatalf("attempts %v; want a transient 502, then one sms", n.GetAttempts())
	}
}

// TestDuplicatesSendOnce: the same notification arriving as five distinct
// queue messages (outside JetStream's duplicate window, say a week apart)
// and twice over gRPC is one message at the receiver.
func TestDuplicatesSendOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "dup"
	ctx := context.Background()
	c := e.customer(t, tenant, person{id: "omid", phone: "+989121234444", first: "Omid", locale: "fa", preferred: smsCh, consents: []journeyv1.Channel{smsCh}})
	req := winback(tenant, "trigger:winback:e1", c, 0, mkt)
	for i := range 5 {
		e.enqueue(t, req, fmt.Sprintf("copy-%d", i))
	}
	resp, err := e.api.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "trigger:winback:e1", notificationv1.Status_STATUS_SENT)
	resp, err = e.api.Send(ctx, req)
	if err != nil || !resp.GetDuplicate() || resp.GetNotification().GetStatus() != notificationv1.Status_STATUS_SENT {
		t.Fatalf("second Send = %v, %v; want the sent notification, duplicate", resp, err)
	}
	poll.Until(t, 5*time.Second, "the queue drained", func() bool {
		info, err := e.nats.JS.Stream(ctx, "NOTIFICATION_REQUESTS")
		if err != nil {
			return false
		}
		si, err := info.Info(ctx)
		return err == nil && si.State.Msgs == 0
	})
	if got := len(e.sms.to("+989121234444")); got != 1 {
		t.Fatalf("%d sms, want 1", got)
	}
	sent := 0
	for _, ev := range e.events(t, tenant) {
		if ev.GetType() == "notification.sent" {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d sent events, want 1", sent)
	}
}

// pending is how many messages a stream holds.
func pending(t *testing.T, e *env, stream string) uint64 {
	t.Helper()
	s, err := e.nats.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// A Send the queue refuses fails and leaves nothing behind: no record
// "queued" that nothing would send. Sent again once the queue takes it, it
// is sent once.
func TestSendTheQueueRefusesLeavesNoRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "refused"
	ctx := context.Background()
	c := e.customer(t, tenant, person{id: "reza", phone: "+989121235555", first: "Reza", locale: "fa", preferred: smsCh, consents: []journeyv1.Channel{smsCh}})
	req := winback(tenant, "api:refused-1", c, 0, mkt)

	stream, err := e.nats.JS.Stream(ctx, "NOTIFICATION_REQUESTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	setMaxMsgSize := func(n int32) {
		cfg := info.Config
		cfg.MaxMsgSize = n
		if _, err := e.nats.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	setMaxMsgSize(16) // every request is larger: the broker refuses it
	if _, err := e.api.Send(ctx, req); err == nil {
		t.Fatal("Send succeeded although the queue refused the request")
	}
	if _, err := e.api.GetStatus(ctx, &notificationv1.GetStatusRequest{Tenant: tenant, NotificationId: "api:refused-1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetStatus after the failed Send = %v, want NOT_FOUND (nothing recorded)", err)
	}

	setMaxMsgSize(info.Config.MaxMsgSize)
	resp, err := e.api.Send(ctx, req)
	if err != nil || resp.GetDuplicate() {
		t.Fatalf("Send once the queue takes it = %v, %v; want accepted, not a duplicate", resp, err)
	}
	e.status(t, tenant, "api:refused-1", notificationv1.Status_STATUS_SENT)
	if got := len(e.sms.to("+989121235555")); got != 1 {
		t.Fatalf("%d sms, want 1", got)
	}
	if resp, err := e.api.Send(ctx, req); err != nil || !resp.GetDuplicate() {
		t.Fatalf("third Send = %v, %v; want a duplicate", resp, err)
	}
}
