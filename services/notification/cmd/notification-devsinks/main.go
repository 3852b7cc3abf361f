// Command notification-devsinks runs, for local development and the
// `make run` demo, an SMTP server, a Kavenegar-like SMS gateway and a
// webhook receiver, and prints every message that reaches them.
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bazgasht/bazgasht/services/notification/internal/devsinks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := devsinks.Run(ctx, devsinks.Config{
		SMTPAddr:      cmp.Or(os.Getenv("DEVSINKS_SMTP_ADDR"), "127.0.0.1:2525"),
		SMSAddr:       cmp.Or(os.Getenv("DEVSINKS_SMS_ADDR"), "127.0.0.1:8091"),
		WebhookAddr:   cmp.Or(os.Getenv("DEVSINKS_WEBHOOK_ADDR"), "127.0.0.1:8092"),
		SMSAPIKey:     cmp.Or(os.Getenv("DEVSINKS_SMS_API_KEY"), "dev-sms-key"),
		WebhookSecret: cmp.Or(os.Getenv("DEVSINKS_WEBHOOK_SECRET"), "dev-webhook-secret"),
		DeliveryURL:   os.Getenv("DEVSINKS_DELIVERY_URL"),
		Out:           os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notification-devsinks:", err)
		os.Exit(1)
	}
}
