package ports_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
)

const (
	email   = journeyv1.Channel_CHANNEL_EMAIL
	smsCh   = journeyv1.Channel_CHANNEL_SMS
	webhook = journeyv1.Channel_CHANNEL_WEBHOOK
	mkt     = notificationv1.Category_CATEGORY_MARKETING
	txn     = notificationv1.Category_CATEGORY_TRANSACTIONAL
)

func winback(tenant, id string, c *journeyv1.Customer, ch journeyv1.Channel, cat notificationv1.Category) *notificationv1.SendRequest {
	return &notificationv1.SendRequest{Tenant: tenant, NotificationId: id, Customer: c, TemplateId: "winback", Channel: ch, Category: cat}
}

// TestChannelChoiceAndConsent sends one notification per case, each to its
// own customer, and checks where it arrived — or why it did not.
func TestChannelChoiceAndConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "choice"
	both := []journeyv1.Channel{email, smsCh}
	cases := []struct {
		name       string
		p          person
		channel    journeyv1.Channel
		category   notificationv1.Category
		wantStatus notificationv1.Status
		wantOn     journeyv1.Channel
		wantReason string
	}{
		{"auto uses the preferred sms", person{phone: "+989121110001", email: "a1@example.com", preferred: smsCh, consents: both}, 0, mkt, notificationv1.Status_STATUS_SENT, smsCh, ""},
		{"auto uses the preferred email", person{phone: "+989121110002", email: "a2@example.com", preferred: email, consents: both}, 0, mkt, notificationv1.Status_STATUS_SENT, email, ""},
		{"auto skips a preferred channel without consent", person{phone: "+989121110003", email: "a3@example.com", preferred: smsCh, consents: []journeyv1.Channel{email}}, 0, mkt, notificationv1.Status_STATUS_SENT, email, ""},
		{"requested sms overrides the preference", person{phone: "+989121110004", email: "a4@example.com", preferred: email, consents: both}, smsCh, mkt, notificationv1.Status_STATUS_SENT, smsCh, ""},
		{"marketing without consent is suppressed", person{phone: "+989121110005", email: "a5@example.com", preferred: smsCh}, smsCh, mkt, notificationv1.Status_STATUS_SUPPRESSED, smsCh, "no_consent"},
		{"marketing with no consent anywhere is suppressed", person{phone: "+989121110006", email: "a6@example.com", preferred: email}, 0, mkt, notificationv1.Status_STATUS_SUPPRESSED, email, "no_consent"},
		{"transactional needs no marketing consent", person{phone: "+989121110007", email: "a7@example.com", preferred: smsCh}, smsCh, txn, notificationv1.Status_STATUS_SENT, smsCh, ""},
		{"no phone, no sms", person{email: "a8@example.com", preferred: email, consents: both}, smsCh, txn, notificationv1.Status_STATUS_SUPPRESSED, smsCh, "no_contact"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.p.id, tc.p.first, tc.p.locale = "c"+string(rune('a'+i)), "Sara", "fa"
			c := e.customer(t, tenant, tc.p)
			id := "n-" + tc.p.id
			if _, err := e.api.Send(context.Background(), winback(tenant, id, c, tc.channel, tc.category)); err != nil {
				t.Fatal(err)
			}
			n := e.status(t, tenant, id, tc.wantStatus)
			if n.GetChannel() != tc.wantOn || !strings.Contains(n.GetReason(), tc.wantReason) {
				t.Fatalf("channel %v reason %q, want %v and %q", n.GetChannel(), n.GetReason(), tc.wantOn, tc.wantReason)
			}
			gotSMS, gotMail := len(e.sms.to(tc.p.phone)), len(e.mail.to(tc.p.email))
			switch {
			case tc.wantStatus != notificationv1.Status_STATUS_SENT && gotSMS+gotMail != 0:
				t.Fatalf("a suppressed notification arrived: %d sms, %d mails", gotSMS, gotMail)
			case tc.wantStatus == notificationv1.Status_STATUS_SENT && tc.wantOn == smsCh && (gotSMS != 1 || gotMail != 0):
				t.Fatalf("want one sms, got %d sms and %d mails", gotSMS, gotMail)
			case tc.wantStatus == notificationv1.Status_STATUS_SENT && tc.wantOn == email && (gotMail != 1 || gotSMS != 0):
				t.Fatalf("want one mail, got %d sms and %d mails", gotSMS, gotMail)
			}
			if tc.wantStatus == notificationv1.Status_STATUS_SUPPRESSED {
				ev := e.eventOf(t, tenant, id, "notification.suppressed")
				if r := ev.GetNotificationSuppressed().GetReason(); r != tc.wantReason {
					t.Fatalf("suppressed event reason %q, want %q", r, tc.wantReason)
				}
			} else {
				ev := e.eventOf(t, tenant, id, "notification.sent")
				if ev.GetNotificationSent().GetChannel() != tc.wantOn || ev.GetNotificationSent().GetTemplate() != "winback@1" || ev.GetSource() != "notification" {
					t.Fatalf("sent event %v", ev.GetNotificationSent())
				}
			}
		})
	}
}

// part is one MIME part of a mail.
type part struct {
	contentType string
	body        string
}

func parseMail(t *testing.T, data []byte) (*mail.Message, []part) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	var parts []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, part{p.Header.Get("Content-Type"), string(b)})
	}
	return msg, parts
}

// TestEmailIsRTLMultipartWithOneClickUnsubscribe reads a Persian email back
// from the SMTP server, then unsubscribes through its List-Unsubscribe
// header (RFC 8058 one-click POST) and checks the next email is not sent;
// and the link in the body, opened in a browser, asks before it acts.
func TestEmailIsRTLMultipartWithOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "mail"
	ctx := context.Background()
	c := e.customer(t, tenant, person{id: "sara", email: "sara@example.com", first: "سارا", locale: "fa", preferred: email, consents: []journeyv1.Channel{email}})
	req := &notificationv1.SendRequest{Tenant: tenant, NotificationId: "bis-1", Customer: c, TemplateId: "back-in-stock", Category: mkt,
		Variables: map[string]string{"product_id": "p1", "product_name": "کفش <b>قرمز</b>", "product_url": "https://shop.example/p/1"}}
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "bis-1", notificationv1.Status_STATUS_SENT)
	mails := e.mail.to("sara@example.com")
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	msg, parts := parseMail(t, mails[0].Data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "کفش <b>قرمز</b> دوباره موجود شد" {
		t.Errorf("Subject %q", subject)
	}
	if !strings.HasSuffix(msg.Header.Get("Message-Id"), "@example.com>") {
		t.Errorf("Message-ID %q, want one in the sender's domain", msg.Header.Get("Message-Id"))
	}
	if msg.Header.Get("Content-Language") != "fa" || msg.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("Content-Language %q, List-Unsubscribe-Post %q", msg.Header.Get("Content-Language"), msg.Header.Get("List-Unsubscribe-Post"))
	}
	unsub := strings.Trim(msg.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsub, e.web.URL+"/unsubscribe/") {
		t.Fatalf("List-Unsubscribe %q", msg.Header.Get("List-Unsubscribe"))
	}
	if len(parts) != 2 || !strings.HasPrefix(parts[0].contentType, "text/plain") || !strings.HasPrefix(parts[1].contentType, "text/html") {
		t.Fatalf("parts %v, want text/plain then text/html", parts)
	}
	text, html := parts[0].body, parts[1].body
	if !strings.Contains(text, "سارا عزیز") || !strings.Contains(text, "کفش <b>قرمز</b>") {
		t.Errorf("text part does not greet the customer or name the product:\n%s", text)
	}
	for _, want := range []string{`<html lang="fa" dir="rtl">`, "کفش &lt;b&gt;قرمز&lt;/b&gt;", `href="https://shop.example/p/1"`, "لغو اشتراک"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<b>قرمز</b>") {
		t.Error("HTML did not escape the product name")
	}

	// The link in the body: GET asks, changes nothing.
	resp, err := http.Get(unsub)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<form method="post"`) || !strings.Contains(string(page), "press the button") {
		t.Fatalf("GET %d:\n%s", resp.StatusCode, page)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("the page carries its token in the URL without Referrer-Policy no-referrer and a CSP: %v", resp.Header)
	}
	// A tampered link is refused.
	resp, err = http.Post(unsub+"x", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered link: %d, want 400", resp.StatusCode)
	}
	// The mail client's one-click POST.
	resp, err = http.PostForm(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("one-click POST: %d", resp.StatusCode)
	}
	req.NotificationId = "bis-2"
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	n := e.status(t, tenant, "bis-2", notificationv1.Status_STATUS_SUPPRESSED)
	if n.GetReason() != "unsubscribed" {
		t.Fatalf("reason %q, want unsubscribed", n.GetReason())
	}
	// Transactional mail is not exempt from an unsubscribe either.
	req.NotificationId, req.Category = "bis-3", txn
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "bis-3", notificationv1.Status_STATUS_SUPPRESSED)
	if got := len(e.mail.to("sara@example.com")); got != 1 {
		t.Fatalf("%d mails after unsubscribing, want still 1", got)
	}

	// Another customer follows the link in the body and presses the
	// page's button.
	c2 := e.customer(t, tenant, person{id: "kian", email: "kian@example.com", first: "Kian", locale: "en", preferred: email, consents: []journeyv1.Channel{email}})
	req = &notificationv1.SendRequest{Tenant: tenant, NotificationId: "wb-1", Customer: c2, TemplateId: "winback", Category: mkt}
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "wb-1", notificationv1.Status_STATUS_SENT)
	_, parts = parseMail(t, e.mail.to("kian@example.com")[0].Data)
	_, after, ok := strings.Cut(parts[0].body, "Unsubscribe: ")
	link := strings.TrimSpace(after)
	if !ok || !strings.HasPrefix(link, e.web.URL+"/unsubscribe/") {
		t.Fatalf("no unsubscribe link in the text part:\n%s", parts[0].body)
	}
	resp, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	_, rest, _ := strings.Cut(string(page), `action="`)
	action, _, _ := strings.Cut(rest, `"`)
	if action == "" {
		t.Fatalf("no form on the page:\n%s", page)
	}
	resp, err = http.PostForm(e.web.URL+action, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the page's button: %d", resp.StatusCode)
	}
	req.NotificationId = "wb-2"
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := e.status(t, tenant, "wb-2", notificationv1.Status_STATUS_SUPPRESSED); n.GetReason() != "unsubscribed" {
		t.Fatalf("reason %q", n.GetReason())
	}
	// Sara's unsubscribe was hers alone (wb-1 reached Kian), and Kian's
	// stopped what came after.
	if got := len(e.mail.to("kian@example.com")); got != 1 {
		t.Fatalf("%d mails to Kian, want 1", got)
	}
}

// TestFallbackFromAnInvalidNumber: the gateway refuses the number for good,
// so the message goes by email, and the status and the sent event say so.
func TestFallbackFromAnInvalidNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "fallback"
	ctx := context.Background()
	c := e.customer(t, tenant, person{id: "reza", email: "reza@example.com", phone: "+989001234567", first: "Reza", locale: "en", preferred: smsCh,
		consents: []journeyv1.Channel{email, smsCh}})
	if _, err := e.api.Send(ctx, winback(tenant, "fb-1", c, 0, mkt)); err != nil {
		t.Fatal(err)
	}
	n := e.status(t, tenant, "fb-1", notificationv1.Status_STATUS_SENT)
	if n.GetChannel() != email || len(n.GetAttempts()) != 2 || n.GetAttempts()[0].GetOutcome() != notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_PERMANENT_ERROR {
		t.Fatalf("channel %v, attempts %v; want email after a permanent sms failure", n.GetChannel(), n.GetAttempts())
	}
	if len(n.GetFallbacks()) != 1 || n.GetFallbacks()[0] != "fell back from sms: invalid number" {
		t.Fatalf("fallbacks %q", n.GetFallbacks())
	}
	if len(e.mail.to("reza@example.com")) != 1 {
		t.Fatal("no mail after the fallback")
	}
	ev := e.eventOf(t, tenant, "fb-1", "notification.sent")
	if ev.GetNotificationSent().GetFallbackReason() != "fell back from sms: invalid number" || ev.GetNotificationSent().GetProvider() != "smtp" {
		t.Fatalf("sent event %v", ev.GetNotificationSent())
	}

	// With fallback off, the permanent failure ends it.
	c2 := e.customer(t, tenant, person{id: "reza2", email: "reza2@example.com", phone: "+989001234568", first: "Reza", locale: "en", preferred: smsCh,
		consents: []journeyv1.Channel{email, smsCh}})
	req := winback(tenant, "fb-2", c2, 0, mkt)
	req.DisableFallback = true
	if _, err := e.api.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	n = e.status(t, tenant, "fb-2", notificationv1.Status_STATUS_FAILED)
	if n.GetReason() != "invalid number" || len(e.mail.to("reza2@example.com")) != 0 {
		t.Fatalf("reason %q, %d mails", n.GetReason(), len(e.mail.to("reza2@example.com")))
	}
	ev = e.eventOf(t, tenant, "fb-2", "notification.failed")
	if f := ev.GetNotificationFailed(); !f.GetPermanent() || f.GetReason() != "invalid number" || f.GetChannel() != smsCh {
		t.Fatalf("failed event %v", f)
	}
	// A bounced address fails email for good, and sms takes over.
	c3 := e.customer(t, tenant, person{id: "reza3", email: "bounce@example.com", phone: "+989121234569", first: "Reza", locale: "en", preferred: email,
		consents: []journeyv1.Channel{email, smsCh}})
	if _, err := e.api.Send(ctx, winback(tenant, "fb-3", c3, 0, mkt)); err != nil {
		t.Fatal(err)
	}
	n = e.status(t, tenant, "fb-3", notificationv1.Status_STATUS_SENT)
	if n.GetChannel() != smsCh || len(n.GetFallbacks()) != 1 || !strings.HasPrefix(n.GetFallbacks()[0], "fell back from email: address refused: 550") {
		t.Fatalf("channel %v fallbacks %q", n.GetChannel(), n.GetFallbacks())
	}
}

// TestSMSDeliveryReport: the gateway calls back with status 10 and the
// notification becomes delivered, once, with its journey event.
func TestSMSDeliveryReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "dlr"
	c := e.customer(t, tenant, person{id: "mina", phone: "+989121230000", first: "Mina", locale: "fa", preferred: smsCh, consents: []journeyv1.Channel{smsCh}})
	if _, err := e.api.Send(context.Background(), winback(tenant, "d-1", c, 0, txn)); err != nil {
		t.Fatal(err)
	}
	n := e.status(t, tenant, "d-1", notificationv1.Status_STATUS_SENT)
	msgID := n.GetAttempts()[0].GetProviderMessageId()
	post := func(secret, id, status string) int {
		resp, err := http.PostForm(e.web.URL+"/sms/delivery/"+secret, url.Values{"messageid": {id}, "status": {status}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("wrong", msgID, "10"); st != http.StatusNotFound {
		t.Fatalf("wrong secret: %d, want 404", st)
	}
	if st := post(callbackKey, "999999", "10"); st != http.StatusNotFound {
		t.Fatalf("unknown message: %d, want 404", st)
	}
	for range 2 {
		if st := post(callbackKey, msgID, "10"); st != 200 {
			t.Fatalf("report: %d", st)
		}
	}
	e.status(t, tenant, "d-1", notificationv1.Status_STATUS_DELIVERED)
	e.eventOf(t, tenant, "d-1", "notification.delivered")
	delivered := 0
	for _, ev := range e.events(t, tenant) {
		if ev.GetType() == "notification.delivered" {
			delivered++
		}
	}
	if delivered != 1 {
		t.Fatalf("%d delivered events, want 1", delivered)
	}
}

// A guest unsubscribes from a message sent before the profile service knew
// them; the profile created afterwards (and its different key) does not
// bring the messages back: the unsubscribe holds for the address itself.
func TestAGuestsUnsubscribeHoldsOnceTheyHaveAProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "guest"
	ctx := context.Background()
	guest := &journeyv1.Customer{Email: "Ali@Example.com"}
	first := &notificationv1.SendRequest{Tenant: tenant, NotificationId: "g-1", Customer: guest, TemplateId: "winback", Channel: email, Category: txn}
	if _, err := e.api.Send(ctx, first); err != nil {
		t.Fatal(err)
	}
	e.status(t, tenant, "g-1", notificationv1.Status_STATUS_SENT)
	var unsub string
	poll.Until(t, 10*time.Second, "the guest's mail", func() bool {
		for _, m := range e.mail.to("Ali@Example.com") {
			if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
				unsub = strings.Trim(msg.Header.Get("List-Unsubscribe"), "<>")
			}
		}
		return unsub != ""
	})
	resp, err := http.PostForm(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST: %d", resp.StatusCode)
	}
	// The guest signs up, with marketing consent, under another spelling.
	c := e.customer(t, tenant, person{id: "ali", email: "ali@example.com", first: "Ali", locale: "en", preferred: email, consents: []journeyv1.Channel{email}})
	if _, err := e.api.Send(ctx, winback(tenant, "g-2", c, email, mkt)); err != nil {
		t.Fatal(err)
	}
	if n := e.status(t, tenant, "g-2", notificationv1.Status_STATUS_SUPPRESSED); n.GetReason() != "unsubscribed" {
		t.Fatalf("reason %q, want unsubscribed", n.GetReason())
	}
}
