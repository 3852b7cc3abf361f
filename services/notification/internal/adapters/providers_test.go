package adapters_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

func TestUnsubscribeLinks(t *testing.T) {
	t.Parallel()
	l, err := adapters.NewLinks([]byte("0123456789abcdef0123"), "https://n.example/")
	if err != nil {
		t.Fatal(err)
	}
	u := l.UnsubscribeURL("shop", "profile-1", "", notification.Email, "survey:i1")
	tok, ok := strings.CutPrefix(u, "https://n.example/unsubscribe/")
	if !ok {
		t.Fatalf("URL %s", u)
	}
	c, err := l.Verify(tok)
	if err != nil || c != (adapters.UnsubscribeClaim{Tenant: "shop", Customer: "profile-1", Channel: notification.Email, Notification: "survey:i1"}) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	other, _ := adapters.NewLinks([]byte("another-key-of-16-bytes"), "https://n.example")
	payload, sig, _ := strings.Cut(tok, ".")
	for name, bad := range map[string]string{"no signature": payload, "cut signature": payload + "." + sig[:10], "other payload": "e30." + sig, "garbage": "%%%"} {
		if _, err := l.Verify(bad); !errors.Is(err, adapters.ErrBadLink) {
			t.Errorf("%s: %v, want ErrBadLink", name, err)
		}
	}
	if _, err := other.Verify(tok); !errors.Is(err, adapters.ErrBadLink) {
		t.Error("a link signed under another key was accepted")
	}
	if _, err := adapters.NewLinks([]byte("short"), "x"); err == nil {
		t.Error("a short key was accepted")
	}
}

func msg() app.Message {
	return app.Message{Tenant: "t", NotificationID: "n1", IdempotencyKey: "t:n1:webhook", Channel: notification.Webhook, To: "customer",
		Customer: notification.Customer{CustomerID: "c1"}, Content: template.Rendered{Locale: "fa", Text: "سلام"}}
}

func TestWebhookProviderSignsAndClassifies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    int
		permanent bool
		ok        bool
	}{{200, false, true}, {202, false, true}, {400, true, false}, {410, true, false}, {408, false, false}, {429, false, false}, {500, false, false}, {503, false, false}}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			var sig, key string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sig, key = r.Header.Get("Bazgasht-Signature"), r.Header.Get("Idempotency-Key")
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			now := time.Unix(1_800_000_000, 0)
			p, err := adapters.NewWebhookProvider(srv.URL, []byte("s3cret"), time.Second, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Send(context.Background(), msg())
			var perr *app.ProviderError
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Send = %v", err)
			case !tc.ok && (!errors.As(err, &perr) || perr.Permanent != tc.permanent):
				t.Fatalf("Send = %#v, want permanent=%v", err, tc.permanent)
			}
			if !strings.HasPrefix(sig, "t=1800000000,v1=") || len(sig) != len("t=1800000000,v1=")+64 || key != "t:n1:webhook" {
				t.Fatalf("signature %q, key %q", sig, key)
			}
		})
	}
	// A dead endpoint is transient.
	p, _ := adapters.NewWebhookProvider("http://127.0.0.1:1", []byte("s"), time.Second, time.Now)
	var perr *app.ProviderError
	if _, err := p.Send(context.Background(), msg()); err == nil || (errors.As(err, &perr) && perr.Permanent) {
		t.Fatalf("refused connection = %v, want transient", err)
	}
}

func TestSMSGatewayClassifies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		http       int
		permanent  bool
		ok         bool
	}{
		{"accepted", `{"return":{"status":200,"message":"تایید شد"},"entries":[{"messageid":8792343,"status":1,"statustext":"در صف ارسال"}]}`, 200, false, true},
		{"invalid number", `{"return":{"status":411,"message":"receptor نامعتبر"},"entries":null}`, 411, true, false},
		{"bad key", `{"return":{"status":403,"message":"API-Key نامعتبر"},"entries":null}`, 403, true, false},
		{"no credit", `{"return":{"status":418,"message":"اعتبار کافی نیست"},"entries":null}`, 418, false, false},
		{"gateway down", `<html>bad gateway</html>`, 502, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var path, receptor, local string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				path, receptor, local = r.URL.Path, r.FormValue("receptor"), r.FormValue("localid")
				w.WriteHeader(tc.http)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			g, err := adapters.NewSMSGateway(srv.URL, "KEY-1", "1000", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			m := msg()
			m.To = "+989121234567"
			r, err := g.Send(context.Background(), m)
			var perr *app.ProviderError
			switch {
			case tc.ok && (err != nil || r.MessageID != "8792343"):
				t.Fatalf("Send = %+v, %v", r, err)
			case !tc.ok && (!errors.As(err, &perr) || perr.Permanent != tc.permanent):
				t.Fatalf("Send = %#v, want permanent=%v", err, tc.permanent)
			}
			if path != "/v1/KEY-1/sms/send.json" || receptor != "+989121234567" || local != adapters.SMSLocalID("t:n1:webhook") {
				t.Fatalf("path %q receptor %q localid %q", path, receptor, local)
			}
			// Kavenegar's localid is a number: a 64-bit integer.
			if n, err := strconv.ParseInt(local, 10, 64); err != nil || n < 0 {
				t.Fatalf("localid %q is not a non-negative 64-bit integer: %v", local, err)
			}
		})
	}
}

func TestHTMLDocumentDirection(t *testing.T) {
	t.Parallel()
	if d := adapters.HTMLDocument("fa", "s", "<p>x</p>"); !strings.Contains(d, `<html lang="fa" dir="rtl">`) || !strings.Contains(d, "text-align:right") {
		t.Fatalf("fa: %s", d)
	}
	if d := adapters.HTMLDocument("en", "<s>", "<p>x</p>"); !strings.Contains(d, `dir="ltr"`) || !strings.Contains(d, "&lt;s&gt;") {
		t.Fatalf("en: %s", d)
	}
}

// silentSession takes a whole message and then never answers, as a relay
// that queued the mail and hung before its 250 would look.
type silentSession struct{ hold chan struct{} }

func (s *silentSession) Reset()                               {}
func (s *silentSession) Logout() error                        { return nil }
func (s *silentSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *silentSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *silentSession) Data(r io.Reader) error               { _, _ = io.Copy(io.Discard, r); <-s.hold; return nil }

// An SMTP server that took the message but whose answer never came may have
// queued it: the provider says the outcome is unknown, so the dispatcher
// neither retries nor falls back to another channel (a second copy).
func TestSMTPWithoutAnAnswerAfterTheMessageIsUnknownNotRefused(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &silentSession{hold: hold}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { close(hold); _ = srv.Close() })
	port := lis.Addr().(*net.TCPAddr).Port
	p, err := adapters.NewSMTPProvider(adapters.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: "none", From: "shop@example.com", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := msg()
	m.Channel, m.To = notification.Email, "sara@example.com"
	_, err = p.Send(context.Background(), m)
	var perr *app.ProviderError
	if !errors.As(err, &perr) || !perr.Unknown || perr.Permanent {
		t.Fatalf("Send to a server that never answered the message = %#v, want an unknown outcome", err)
	}
}
