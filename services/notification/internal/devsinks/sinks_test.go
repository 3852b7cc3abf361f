package devsinks_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/devsinks"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSinksSpeakTheProvidersProtocols sends through the service's own
// providers to the dev sinks and reads what they printed.
func TestSinksSpeakTheProvidersProtocols(t *testing.T) {
	t.Parallel()
	out := &buffer{}
	cfg := devsinks.Config{SMTPAddr: proctest.FreeAddr(t), SMSAddr: proctest.FreeAddr(t), WebhookAddr: proctest.FreeAddr(t),
		SMSAPIKey: "k", WebhookSecret: "s", Out: out}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devsinks.Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	poll.Until(t, 5*time.Second, "sinks listening", func() bool {
		c, err := net.Dial("tcp", cfg.SMTPAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	_, port, _ := net.SplitHostPort(cfg.SMTPAddr)
	p, _ := strconv.Atoi(port)
	smtpP, err := adapters.NewSMTPProvider(adapters.SMTPConfig{Host: "127.0.0.1", Port: p, TLS: "none", From: "shop@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sms, _ := adapters.NewSMSGateway("http://"+cfg.SMSAddr, "k", "", 5*time.Second)
	hook, _ := adapters.NewWebhookProvider("http://"+cfg.WebhookAddr+"/", []byte("s"), 5*time.Second, time.Now)
	ctx2 := context.Background()
	base := app.Message{Tenant: "demo", NotificationID: "n1", IdempotencyKey: "demo:n1:x", Content: template.Rendered{Locale: "fa", Subject: "سلام", Text: "متن پیام", HTML: "<p>متن</p>"}}
	m := base
	m.Channel, m.To, m.UnsubscribeURL = notification.Email, "sara@example.com", "http://127.0.0.1:8084/unsubscribe/x"
	if _, err := smtpP.Send(ctx2, m); err != nil {
		t.Fatal(err)
	}
	m.Channel, m.To = notification.SMS, "+989121234567"
	if _, err := sms.Send(ctx2, m); err != nil {
		t.Fatal(err)
	}
	m.Channel = notification.Webhook
	if _, err := hook.Send(ctx2, m); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "three arrivals printed", func() bool {
		s := out.String()
		return strings.Contains(s, `EMAIL to sara@example.com [fa] "سلام"`) && strings.Contains(s, "SMS to +989121234567: متن پیام") &&
			strings.Contains(s, "WEBHOOK {") && strings.Contains(s, "List-Unsubscribe: <http://127.0.0.1:8084/unsubscribe/x>")
	})
	// The gateway's inbox shows the text a phone would have received.
	resp, err := http.Get("http://" + cfg.SMSAddr + "/inbox?receptor=%2B989121234567")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inbox []devsinks.InboxSMS
	if err := json.NewDecoder(resp.Body).Decode(&inbox); err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].Message != "متن پیام" {
		t.Fatalf("inbox = %+v, want the one SMS", inbox)
	}
}
