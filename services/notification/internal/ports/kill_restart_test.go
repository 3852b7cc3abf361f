package ports_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
)

// TestKillAndRestartMidBatch runs the real notification binary, SIGKILLs it
// in the middle of a batch of SMS and webhook messages, starts it again,
// and counts at the receivers: every notification arrived, none twice.
func TestKillAndRestartMidBatch(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "github.com/bazgasht/bazgasht/services/notification/cmd/notification")
	srv := natstest.Start(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Profile(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t, redistest.Client(t))
	profileAddr, profileAdmin := proctest.FreeAddr(t), proctest.FreeAddr(t)
	pp := proctest.Start(t, profileBin, "NATS_URL="+srv.URL, "REDIS_URL="+redistest.URL(), "PROFILE_CACHE_PREFIX="+prefix,
		"PROFILE_GRPC_ADDR="+profileAddr, "PROFILE_ADMIN_ADDR="+profileAdmin)
	pp.WaitReady(t, "http://"+profileAdmin+"/readyz", 20*time.Second)

	gw, hook := startSMSGateway(t), startHookReceiver(t, hookSecret)
	// Slow receivers keep a batch in flight long enough to be cut.
	slow := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(3 * time.Millisecond); h.ServeHTTP(w, r) })
	}
	gw.Config.Handler, hook.Config.Handler = slow(gw.Config.Handler), slow(hook.Config.Handler)

	grpcAddr, httpAddr, adminAddr := proctest.FreeAddr(t), proctest.FreeAddr(t), proctest.FreeAddr(t)
	vars := []string{"NATS_URL=" + srv.URL, "NOTIFICATION_GRPC_ADDR=" + grpcAddr, "NOTIFICATION_HTTP_ADDR=" + httpAddr, "NOTIFICATION_ADMIN_ADDR=" + adminAddr,
		"NOTIFICATION_PROFILE_ADDR=" + profileAddr, "NOTIFICATION_LINK_KEY=" + linkKey,
		"NOTIFICATION_SMS_URL=" + gw.URL, "NOTIFICATION_SMS_API_KEY=" + gw.key, "NOTIFICATION_WEBHOOK_URL=" + hook.URL, "NOTIFICATION_WEBHOOK_SECRET=" + hookSecret,
		"NOTIFICATION_ACK_WAIT=2s", "NOTIFICATION_PROVIDER_TIMEOUT=1s", "NOTIFICATION_RETRY_BASE=50ms", "NOTIFICATION_RECHECK=200ms",
		"NOTIFICATION_WORKERS=16", "NOTIFICATION_QUIET_HOURS=off", "LOG_LEVEL=warn"}
	p := proctest.Start(t, bin, vars...)
	p.WaitReady(t, "http://"+adminAddr+"/readyz", 20*time.Second)

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := notificationv1.NewNotificationServiceClient(conn)
	const tenant = "crash"
	if _, err := api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: tenant, Template: &notificationv1.Template{
		TemplateId: "shipped", DefaultCategory: notificationv1.Category_CATEGORY_TRANSACTIONAL,
		Contents: []*notificationv1.TemplateContent{
			{Channel: journeyv1.Channel_CHANNEL_SMS, Locale: "fa", TextBody: "سفارش {{faDigits .Vars.order}} ارسال شد"},
			{Channel: journeyv1.Channel_CHANNEL_WEBHOOK, Locale: "fa", TextBody: "order {{.Vars.order}} shipped"},
		}}}); err != nil {
		t.Fatal(err)
	}
	const total = 600
	e := &env{nats: srv}
	for i := range total {
		ch, c := journeyv1.Channel_CHANNEL_WEBHOOK, &journeyv1.Customer{CustomerId: "k" + strconv.Itoa(i)}
		if i%2 == 0 {
			ch, c = journeyv1.Channel_CHANNEL_SMS, &journeyv1.Customer{Phone: fmt.Sprintf("+98912%07d", i)}
		}
		e.enqueue(t, &notificationv1.SendRequest{Tenant: tenant, NotificationId: "ship:" + strconv.Itoa(i), Customer: c, TemplateId: "shipped",
			Channel: ch, Variables: map[string]string{"order": strconv.Itoa(i)}}, "")
	}
	arrived := func() int {
		s, _ := gw.count()
		h, _, _ := hook.counts()
		return s + h
	}
	poll.Until(t, 30*time.Second, "a third of the batch arriving", func() bool { return arrived() >= total/3 })
	p.Kill()
	cut := arrived()
	if cut >= total {
		t.Fatalf("the whole batch (%d) arrived before the kill; nothing was cut", cut)
	}
	p = proctest.Start(t, bin, vars...)
	p.WaitReady(t, "http://"+adminAddr+"/readyz", 20*time.Second)
	poll.Until(t, 60*time.Second, "every notification arriving", func() bool { return arrived() >= total })

	// Every notification final and sent; nothing more arrives.
	poll.Until(t, 30*time.Second, "every notification sent", func() bool {
		for i := range total {
			resp, err := api.GetStatus(ctx, &notificationv1.GetStatusRequest{Tenant: tenant, NotificationId: "ship:" + strconv.Itoa(i)})
			if err != nil || resp.GetNotification().GetStatus() != notificationv1.Status_STATUS_SENT {
				return false
			}
		}
		return true
	})
	// The restarted process counts what it did.
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`bazgasht_notification_outcomes_total{channel="sms",outcome="sent"}`, `bazgasht_notification_provider_calls_total{provider="webhook",result="accepted"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	smsSent, smsRepeats := gw.count()
	hooks, dupHooks, hookRepeats := hook.counts()
	perReceptor := map[string]int{}
	gw.mu.Lock()
	for _, s := range gw.sent {
		perReceptor[s.Receptor]++
	}
	gw.mu.Unlock()
	dupSMS := 0
	for _, n := range perReceptor {
		if n > 1 {
			dupSMS++
		}
	}
	t.Logf("killed with %d of %d arrived; after restart: %d sms, %d webhooks; repeats caught by idempotency keys: %d sms, %d webhook",
		cut, total, smsSent, hooks, smsRepeats, hookRepeats)
	if smsSent != total/2 || hooks != total/2 || dupSMS != 0 || dupHooks != 0 || len(perReceptor) != total/2 {
		t.Fatalf("sms %d (%d numbers, %d twice), webhooks %d (%d twice); want %d each, none twice", smsSent, len(perReceptor), dupSMS, hooks, dupHooks, total/2)
	}
}
