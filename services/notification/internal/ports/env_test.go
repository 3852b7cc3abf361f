package ports_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	cenv "github.com/caarlos0/env/v11"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/service"
)

// profileBin is the real profile service the notification service reads
// contact details, locale, time zone and consent from.
var profileBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.RunWithBinaries(m, map[string]*string{"github.com/bazgasht/bazgasht/services/profile/cmd/profile": &profileBin}))
}

const (
	linkKey     = "test-link-key-0123456789abcdef"
	hookSecret  = "hook-secret"
	callbackKey = "cb-secret"
)

// clock is the controllable clock the dispatcher reads: it runs with real
// time from wherever the test last set it, so backoffs elapse while a test
// can jump to the end of the night.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	base time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t, base: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.Add(time.Since(c.base))
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t, c.base = t, time.Now()
	c.mu.Unlock()
}

var tehran, _ = time.LoadLocation("Asia/Tehran")

// noonInTehran is a working day's noon in Tehran: outside quiet hours.
var noonInTehran = time.Date(2026, 11, 25, 12, 0, 0, 0, tehran)

// env is the notification service, in process with a controllable clock,
// over a real nats-server, the real profile service and real receivers:
// an SMTP server, an SMS gateway and a webhook endpoint.
type env struct {
	nats    *natstest.Server
	clock   *clock
	app     *service.App
	api     notificationv1.NotificationServiceClient
	profile profilev1.ProfileServiceClient
	pub     *journeystream.Publisher
	web     *httptest.Server
	mail    *mailbox
	sms     *smsGateway
	hook    *hookReceiver
	cfg     service.Config
	log     *slog.Logger
}

// newEnv starts everything; vars override the service's environment.
func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	e := startEnv(t, vars)
	e.consume(t)
	return e
}

// startEnv starts everything but the work-queue consumer.
func startEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Profile(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	e := &env{nats: srv, clock: newClock(noonInTehran), mail: startMailbox(t), sms: startSMSGateway(t), hook: startHookReceiver(t, hookSecret)}

	prefix := redistest.Prefix(t, redistest.Client(t))
	profileAddr := proctest.StartProfile(t, profileBin, srv.URL, redistest.URL(), prefix)

	var handler http.Handler = http.NotFoundHandler()
	e.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.web.Close)

	environment := map[string]string{
		"NATS_URL": srv.URL, "NOTIFICATION_PROFILE_ADDR": profileAddr, "NOTIFICATION_PROFILE_CACHE_TTL": "0s",
		"NOTIFICATION_PUBLIC_URL": e.web.URL, "NOTIFICATION_LINK_KEY": linkKey,
		"NOTIFICATION_SMTP_HOST": "127.0.0.1", "NOTIFICATION_SMTP_PORT": strconv.Itoa(e.mail.port()), "NOTIFICATION_SMTP_TLS": "none",
		"NOTIFICATION_SMTP_FROM": "Shop <shop@example.com>",
		"NOTIFICATION_SMS_URL":   e.sms.URL, "NOTIFICATION_SMS_API_KEY": e.sms.key, "NOTIFICATION_SMS_CALLBACK_SECRET": callbackKey,
		"NOTIFICATION_WEBHOOK_URL": e.hook.URL, "NOTIFICATION_WEBHOOK_SECRET": hookSecret,
		"NOTIFICATION_ACK_WAIT": "3s", "NOTIFICATION_PROVIDER_TIMEOUT": "2s", "NOTIFICATION_RETRY_BASE": "20ms", "NOTIFICATION_RETRY_MAX": "200ms",
		"NOTIFICATION_RECHECK": "100ms", "NOTIFICATION_WORKERS": "16", "NOTIFICATION_PREFETCH": "64",
	}
	for k, v := range vars {
		environment[k] = v
	}
	var cfg service.Config
	if err := cenv.ParseWithOptions(&cfg, cenv.Options{Environment: environment}); err != nil {
		t.Fatal(err)
	}
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), service.Topology(cfg)); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("NOTIFICATION_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := service.Build(ctx, cfg, srv.NC, srv.JS, prometheus.NewRegistry(), e.clock.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	e.app, e.cfg, e.log = a, cfg, log
	handler = a.HTTP.Handler()

	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	notificationv1.RegisterNotificationServiceServer(gs, a.GRPC)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.api = notificationv1.NewNotificationServiceClient(conn)

	if e.pub, err = journeystream.NewPublisher(srv.NC, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pconn, err := grpc.NewClient(profileAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pconn.Close() })
	e.profile = profilev1.NewProfileServiceClient(pconn)
	return e
}

// consume runs the unsubscribe mirror and the work-queue consumer.
func (e *env) consume(t testing.TB) {
	cctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = e.app.Unsubs.Run(cctx) }()
	go func() { defer wg.Done(); _ = e.app.Consume(cctx, e.nats.JS, e.cfg, e.log) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// person is a customer as a shop describes it in customer.updated.
type person struct {
	id, email, phone, first, locale, tz string
	preferred                           journeyv1.Channel
	consents                            []journeyv1.Channel
}

// customer creates the customer's profile by publishing customer.updated to
// JOURNEY and waits until the profile service has folded it.
func (e *env) customer(t *testing.T, tenant string, p person) *journeyv1.Customer {
	t.Helper()
	c := &journeyv1.Customer{CustomerId: p.id, Email: p.email, Phone: p.phone}
	up := &journeyv1.CustomerUpdated{FirstName: p.first, Locale: p.locale, TimeZone: p.tz, PreferredChannel: p.preferred}
	for _, ch := range p.consents {
		up.Consents = append(up.Consents, &journeyv1.Consent{Channel: ch, Granted: true})
	}
	ev := &journeyv1.JourneyEvent{Id: "cu-" + p.id, Tenant: tenant, Type: "customer.updated", Customer: c,
		OccurredAt: timestamppb.New(time.Now().Add(-time.Minute)), Payload: &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: up}}
	for _, ack := range e.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{ev}) {
		if ack.Err != nil {
			t.Fatal(ack.Err)
		}
	}
	poll.Until(t, 15*time.Second, "profile of "+p.id, func() bool {
		resp, err := e.profile.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: tenant,
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{CustomerId: p.id}}}})
		return err == nil && resp.GetProfile().GetTraits().GetFirstName() == p.first && len(resp.GetProfile().GetTraits().GetConsents()) == len(p.consents)
	})
	return &journeyv1.Customer{CustomerId: p.id}
}

// enqueue puts a request on the work queue as the trigger and survey
// services do; msgID lets a test send the same notification as distinct
// messages.
func (e *env) enqueue(t testing.TB, req *notificationv1.SendRequest, msgID string) {
	t.Helper()
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if msgID == "" {
		msgID = req.GetTenant() + ":" + req.GetNotificationId()
	}
	if _, err := e.nats.JS.Publish(context.Background(), "cx."+req.GetTenant()+".notification.send", data, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

// status waits until the notification reaches want and returns it.
func (e *env) status(t *testing.T, tenant, id string, want notificationv1.Status) *notificationv1.Notification {
	t.Helper()
	var n *notificationv1.Notification
	poll.Until(t, 15*time.Second, fmt.Sprintf("%s reaching %v", id, want), func() bool {
		resp, err := e.api.GetStatus(context.Background(), &notificationv1.GetStatusRequest{Tenant: tenant, NotificationId: id})
		if err == nil {
			n = resp.GetNotification()
		}
		return err == nil && n.GetStatus() == want
	})
	return n
}

// events returns the notification.* journey events of a tenant.
func (e *env) events(t *testing.T, tenant string) []*journeyv1.JourneyEvent {
	t.Helper()
	ctx := context.Background()
	c, err := e.nats.JS.OrderedConsumer(ctx, topology.Journey, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"cx." + tenant + ".journey.notification.>"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*journeyv1.JourneyEvent
	for {
		batch, err := c.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ev := &journeyv1.JourneyEvent{}
			if err := proto.Unmarshal(m.Data(), ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		if n == 0 {
			return out
		}
	}
}

// eventOf waits for the journey event of type typ about notification id.
func (e *env) eventOf(t *testing.T, tenant, id, typ string) *journeyv1.JourneyEvent {
	t.Helper()
	var found *journeyv1.JourneyEvent
	poll.Until(t, 10*time.Second, typ+" event of "+id, func() bool {
		for _, ev := range e.events(t, tenant) {
			if ev.GetType() == typ && ev.GetId() == "notification:"+id+":"+typ[len("notification."):] {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}
