package ports_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/ports"
	"github.com/bazgasht/bazgasht/services/survey/internal/service"
)

// profileBin is the real profile service, which the survey service reads
// locales, segments and contact details from.
var profileBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.RunWithBinaries(m, map[string]*string{"github.com/bazgasht/bazgasht/services/profile/cmd/profile": &profileBin}))
}

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// clock is a test clock that starts at the real time and can be moved.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is the survey service wired as in production over an in-process
// nats-server, the real profile service beside it (on real Redis), the
// response page on a real listener and the gRPC API over bufconn.
type env struct {
	nats    *natstest.Server
	svc     *service.Application
	client  surveyv1.SurveyServiceClient
	profile profilev1.ProfileServiceClient
	pub     *journeystream.Publisher
	page    *httptest.Server
	clock   *clock
}

type envOpt func(*service.Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	for _, set := range []topology.Set{topology.Survey(topology.Options{}), topology.Profile(topology.Options{})} {
		if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
			t.Fatal(err)
		}
	}
	prefix := redistest.Prefix(t, redistest.Client(t))
	profileAddr := proctest.StartProfile(t, profileBin, srv.URL, redistest.URL(), prefix)

	e := &env{nats: srv, clock: &clock{}}
	// The page needs its own URL for links, before the app exists.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.Config{Workers: 32, PublicURL: "http://" + ln.Addr().String(), LinkKey: testKey, LinkTTL: 30 * 24 * time.Hour, FatiguePeriod: 30 * 24 * time.Hour,
		DefaultLocale: "fa", ShopNames: "demo=Demo Shop", ProfileAddr: profileAddr, ProfileTimeout: 2 * time.Second, StoreTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("SURVEY_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if e.svc, err = service.NewApplication(ctx, cfg, srv.NC, srv.JS, e.clock.now, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Close)
	e.page = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e.svc.Page.Handler()}}
	e.page.Start()
	t.Cleanup(e.page.Close)

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 3)
	go func() { _ = e.svc.WatchIndex(cctx); done <- struct{}{} }()
	consumer, err := srv.JS.Consumer(ctx, topology.SurveyInvitations, topology.SurveyConsumer)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = ports.ConsumeInvitations(cctx, srv.JS, consumer, ports.InviteConsumerConfig{Durable: topology.SurveyConsumer, MaxDeliver: 5,
			Batch: 4, MaxWait: 50 * time.Millisecond, RetryDelay: 100 * time.Millisecond, Workers: 8}, e.svc.App, log)
		done <- struct{}{}
	}()
	outcomes, err := srv.JS.Consumer(ctx, topology.Journey, topology.SurveyOutcomesConsumer)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = journeystream.Consume(cctx, srv.JS, outcomes, journeystream.ConsumeConfig{Durable: topology.SurveyOutcomesConsumer, MaxDeliver: 5,
			Batch: 10, MaxWait: 50 * time.Millisecond, RetryDelay: 100 * time.Millisecond}, ports.OutcomeHandler(e.svc.App), log)
		done <- struct{}{}
	}()
	t.Cleanup(func() { cancel(); <-done; <-done; <-done })
	select {
	case <-e.svc.Ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the KPI index did not load")
	}

	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	e.svc.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.client = surveyv1.NewSurveyServiceClient(conn)
	pconn, err := grpc.NewClient(profileAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pconn.Close() })
	e.profile = profilev1.NewProfileServiceClient(pconn)
	if e.pub, err = journeystream.NewPublisher(srv.NC, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return e
}

// customer tells the profile service about a customer, as a shop would,
// and waits until the profile has it.
func (e *env) customer(t testing.TB, tenant, id, email, phone, locale string) {
	t.Helper()
	ev := &journeyv1.JourneyEvent{Id: "cu-" + id + "-" + locale, Tenant: tenant, Type: "customer.updated", Source: "api",
		Customer:   &journeyv1.Customer{CustomerId: id, Email: email, Phone: phone},
		OccurredAt: timestamppb.New(time.Now().Add(-time.Hour)), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{Locale: locale}}}
	if a := e.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{ev})[0]; a.Err != nil {
		t.Fatal(a.Err)
	}
	poll.Until(t, 10*time.Second, "the profile of "+id, func() bool {
		r, err := e.profile.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: tenant,
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{CustomerId: id}}}})
		return err == nil && r.GetProfile().GetTraits().GetLocale() == locale
	})
}

// requestInvite puts an invitation request on the work queue exactly as
// the trigger service does.
func (e *env) requestInvite(t testing.TB, msgID string, r *surveyv1.InviteRequest) {
	t.Helper()
	data, err := proto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: "cx." + r.GetTenant() + ".survey.invite", Data: data, Header: nats.Header{}}
	msg.Header.Set("Nats-Msg-Id", msgID)
	if _, err := e.nats.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// queuedMsgs reads every message on subject in stream without taking it.
func (e *env) queuedMsgs(t testing.TB, stream, subject string) []*nats.Msg {
	t.Helper()
	ctx := context.Background()
	s, err := e.nats.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil || (subject != "" && m.Subject != subject) {
			continue
		}
		out = append(out, &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
	}
	return out
}

func (e *env) sendRequests(t testing.TB, tenant string) []*notificationv1.SendRequest {
	t.Helper()
	var out []*notificationv1.SendRequest
	for _, m := range e.queuedMsgs(t, topology.NotificationRequests, "cx."+tenant+".notification.send") {
		r := &notificationv1.SendRequest{}
		if err := proto.Unmarshal(m.Data, r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (e *env) journey(t testing.TB, tenant, typ string) []*journeyv1.JourneyEvent {
	t.Helper()
	var out []*journeyv1.JourneyEvent
	for _, m := range e.queuedMsgs(t, topology.Journey, "cx."+tenant+".journey."+typ) {
		ev := &journeyv1.JourneyEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// workQueueEmpty reports whether every invitation request was taken.
func (e *env) workQueueEmpty(t testing.TB) bool {
	s, err := e.nats.JS.Stream(context.Background(), topology.SurveyInvitations)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	return err == nil && info.State.Msgs == 0
}

// pageGet fetches a page without following redirects.
func pageGet(t testing.TB, url, acceptLang string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if acceptLang != "" {
		req.Header.Set("Accept-Language", acceptLang)
	}
	return do(t, req)
}

func pagePost(t testing.TB, url string, form map[string]string) (int, string) {
	t.Helper()
	var b strings.Builder
	for k, v := range form {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + urlEncode(v))
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(b.String()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func urlEncode(s string) string { return url.QueryEscape(s) }
