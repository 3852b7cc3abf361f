package ports_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// BenchmarkDispatchToWebhook measures notifications dispatched per second to
// a local webhook receiver: b.N requests wait on the work queue, then the
// consumer starts and the clock runs until the receiver has every one.
// Every notification goes through the whole path — ledger claim and final
// write, profile lookup (cached), template render, signed POST, journey
// event — and the receiver counts duplicates.
func BenchmarkDispatchToWebhook(b *testing.B) {
	e := startEnv(b, map[string]string{"NOTIFICATION_QUIET_HOURS": "off", "NOTIFICATION_FREQUENCY_CAP": "off",
		"NOTIFICATION_WORKERS": "256", "NOTIFICATION_PREFETCH": "2048", "NOTIFICATION_PROFILE_CACHE_TTL": "30s", "NOTIFICATION_ACK_WAIT": "30s"})
	ctx := context.Background()
	const tenant = "bench"
	tpl := &notificationv1.Template{TemplateId: "order-shipped", DefaultCategory: notificationv1.Category_CATEGORY_TRANSACTIONAL,
		Contents: []*notificationv1.TemplateContent{{Channel: journeyv1.Channel_CHANNEL_WEBHOOK, Locale: "fa",
			TextBody: "{{default \"مشتری\" .Profile.first_name}}، سفارش {{faDigits .Vars.order_id}} ارسال شد."}}}
	if _, err := e.app.Templates.Create(ctx, tenant, adaptTemplate(tpl)); err != nil {
		b.Fatal(err)
	}
	futures := make([]jetstream.PubAckFuture, 0, b.N)
	for i := range b.N {
		req := &notificationv1.SendRequest{Tenant: tenant, NotificationId: "ship:" + strconv.Itoa(i), TemplateId: "order-shipped",
			Customer: &journeyv1.Customer{CustomerId: "c" + strconv.Itoa(i%200)}, Channel: journeyv1.Channel_CHANNEL_WEBHOOK,
			Variables: map[string]string{"order_id": strconv.Itoa(100000 + i)}}
		data, _ := proto.Marshal(req)
		f, err := e.nats.JS.PublishAsync("cx."+tenant+".notification.send", data, jetstream.WithMsgID(tenant+":ship:"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	e.consume(b)
	poll.Until(b, 5*time.Minute+time.Duration(b.N)*time.Millisecond, fmt.Sprintf("%d notifications delivered", b.N), func() bool {
		delivered, _, _ := e.hook.counts()
		return delivered >= b.N
	})
	elapsed := time.Since(start)
	b.StopTimer()
	delivered, duplicated, repeats := e.hook.counts()
	b.ReportMetric(float64(delivered)/elapsed.Seconds(), "notifications/s")
	b.ReportMetric(float64(duplicated), "duplicates")
	b.ReportMetric(float64(repeats), "idempotent-repeats")
	if duplicated != 0 || delivered != b.N {
		b.Fatalf("delivered %d of %d, %d duplicated", delivered, b.N, duplicated)
	}
}

func adaptTemplate(t *notificationv1.Template) template.Template {
	return adapters.TemplateFromProto(t)
}
