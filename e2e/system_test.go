package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
)

// bins are the five services and the CLI, built once from this
// repository: the paths of their binaries, by name.
var bins = map[string]*string{}

func TestMain(m *testing.M) {
	pkgs := map[string]*string{}
	for _, svc := range []string{"ingest", "profile", "trigger", "survey", "notification"} {
		bins[svc] = new(string)
		pkgs["github.com/bazgasht/bazgasht/services/"+svc+"/cmd/"+svc] = bins[svc]
	}
	bins["bazgasht"] = new(string)
	pkgs["github.com/bazgasht/bazgasht/cli/cmd/bazgasht"] = bins["bazgasht"]
	os.Exit(proctest.RunWithBinaries(m, pkgs))
}

const (
	tenant        = "shop-e2e"
	apiKey        = "bzk_e2e_key"
	shopifySecret = "shpss_e2e"
	// week is how long the default pack's "7 days" last here; its 90 days
	// of silence last 90/7 of it.
	week = 500 * time.Millisecond
)

// gateway is an SMS gateway in the shape the notification service speaks
// (Kavenegar-like): it keeps every text a phone would receive.
type gateway struct {
	mu   sync.Mutex
	sent map[string][]string // receptor -> messages
	ids  map[string]bool     // the service's localid, to count repeats
	dups int
	// arrived, when set, is told of every text as it arrives.
	arrived func(receptor string, at time.Time)
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/e2e-sms-key/sms/send.json" {
		http.Error(w, `{"return":{"status":403,"message":"bad key"}}`, http.StatusForbidden)
		return
	}
	_ = r.ParseForm()
	g.mu.Lock()
	defer g.mu.Unlock()
	if id := r.FormValue("localid"); id != "" && g.ids[id] {
		g.dups++
	} else {
		g.ids[id] = true
		to := r.FormValue("receptor")
		g.sent[to] = append(g.sent[to], r.FormValue("message"))
		if g.arrived != nil {
			g.arrived(to, time.Now())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"return":{"status":200,"message":"ok"},"entries":[{"messageid":%d,"status":1,"receptor":%q}]}`, len(g.ids), r.FormValue("receptor"))
}

func (g *gateway) to(phone string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.sent[phone]...)
}

func (g *gateway) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, m := range g.sent {
		n += len(m)
	}
	return n
}

// system is the five services running over one nats-server and Redis.
type system struct {
	nats                           *natstest.Server
	sms                            *gateway
	api                            string
	profile, trigger, survey       *grpc.ClientConn
	profiles                       profilev1.ProfileServiceClient
	triggers                       triggerv1.TriggerServiceClient
	surveys                        surveyv1.SurveyServiceClient
	http                           *http.Client
	ingestAdmin, notificationAdmin string
	// addrs are the services' gRPC addresses, for the CLI.
	profileAddr, triggerAddr, surveyAddr string
	// admins are the services' admin addresses (/metrics), by service.
	admins map[string]string
}

func start(t testing.TB, extra ...string) *system {
	t.Helper()
	s := &system{nats: natstest.Start(t), sms: &gateway{sent: map[string][]string{}, ids: map[string]bool{}}, http: &http.Client{Timeout: 10 * time.Second}}
	gw := httptest.NewServer(s.sms)
	t.Cleanup(gw.Close)
	prefix := redistest.Prefix(t, redistest.Client(t))
	addr := func() string { return proctest.FreeAddr(t) }
	base := append([]string{"NATS_URL=" + s.nats.URL, "REDIS_URL=" + redistest.URL(), "LOG_LEVEL=warn"}, extra...)
	s.admins = map[string]string{}
	run := func(name string, admin string, env ...string) {
		s.admins[name] = admin
		// extra comes last: a caller's setting wins over the defaults here.
		p := proctest.Start(t, *bins[name], append(append(append([]string{}, base...), env...), extra...)...)
		p.WaitReady(t, "http://"+admin+"/readyz", 30*time.Second)
	}

	sum := sha256.Sum256([]byte(apiKey))
	tenants := `{"tenants":[{"id":"` + tenant + `","api_key_sha256":["` + hex.EncodeToString(sum[:]) + `"],"shopify_secret":"` + shopifySecret + `"}]}`
	ingestHTTP, ingestGRPC := addr(), addr()
	s.ingestAdmin = addr()
	run("ingest", s.ingestAdmin, "INGEST_TENANTS="+tenants, "INGEST_HTTP_ADDR="+ingestHTTP, "INGEST_GRPC_ADDR="+ingestGRPC, "INGEST_ADMIN_ADDR="+s.ingestAdmin)
	s.api = "http://" + ingestHTTP

	profileGRPC, profileAdmin := addr(), addr()
	run("profile", profileAdmin, "PROFILE_GRPC_ADDR="+profileGRPC, "PROFILE_ADMIN_ADDR="+profileAdmin, "PROFILE_CACHE_PREFIX="+prefix,
		"PROFILE_AT_RISK_AFTER=3s", "PROFILE_CHURN_AFTER=60s", "PROFILE_SEGMENT_SWEEP=1s")

	triggerGRPC, triggerAdmin := addr(), addr()
	scale := fmt.Sprintf("%.10f", week.Seconds()/(7*24*3600))
	run("trigger", triggerAdmin, "TRIGGER_GRPC_ADDR="+triggerGRPC, "TRIGGER_ADMIN_ADDR="+triggerAdmin, "TRIGGER_PROFILE_ADDR="+profileGRPC,
		"TRIGGER_PACK_TIME_SCALE="+scale, "TRIGGER_GLOBAL_CAP=50/1h")

	surveyHTTP, surveyGRPC, surveyAdmin := addr(), addr(), addr()
	run("survey", surveyAdmin, "SURVEY_HTTP_ADDR="+surveyHTTP, "SURVEY_GRPC_ADDR="+surveyGRPC, "SURVEY_ADMIN_ADDR="+surveyAdmin,
		"SURVEY_PUBLIC_URL=http://"+surveyHTTP, "SURVEY_PROFILE_ADDR="+profileGRPC, "SURVEY_SHOP_NAMES="+tenant+"=E2E Shop",
		"SURVEY_LINK_KEY=6532652d6f6e6c792d62617a67617368742d7375727665792d6c696e6b2d6b6579")

	notifHTTP, notifGRPC := addr(), addr()
	s.notificationAdmin = addr()
	run("notification", s.notificationAdmin, "NOTIFICATION_HTTP_ADDR="+notifHTTP, "NOTIFICATION_GRPC_ADDR="+notifGRPC, "NOTIFICATION_ADMIN_ADDR="+s.notificationAdmin,
		"NOTIFICATION_PROFILE_ADDR="+profileGRPC, "NOTIFICATION_PUBLIC_URL=http://"+notifHTTP, "NOTIFICATION_LINK_KEY=e2e-unsubscribe-link-key",
		"NOTIFICATION_SMS_URL="+gw.URL, "NOTIFICATION_SMS_API_KEY=e2e-sms-key", "NOTIFICATION_QUIET_HOURS=off",
		"NOTIFICATION_PROFILE_CACHE_TTL=1ms")

	dial := func(a string) *grpc.ClientConn {
		c, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	s.profile, s.trigger, s.survey = dial(profileGRPC), dial(triggerGRPC), dial(surveyGRPC)
	s.profileAddr, s.triggerAddr, s.surveyAddr = profileGRPC, triggerGRPC, surveyGRPC
	s.profiles = profilev1.NewProfileServiceClient(s.profile)
	s.triggers = triggerv1.NewTriggerServiceClient(s.trigger)
	s.surveys = surveyv1.NewSurveyServiceClient(s.survey)
	return s
}

// post sends a body to the ingest API and returns the status and answer.
func (s *system) post(t testing.TB, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *system) profileOf(t *testing.T, c *journeyv1.Customer) *profilev1.Profile {
	t.Helper()
	r, err := s.profiles.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: tenant,
		Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: c}}})
	if err != nil {
		return nil
	}
	return r.GetProfile()
}

var surveyLink = regexp.MustCompile(`https?://\S+/s/[A-Za-z0-9_\-.]+`)

// answer taps score on the survey link in the latest text to phone that
// has one, as the customer would on the response page.
func (s *system) answer(t *testing.T, phone, about string, score int) {
	t.Helper()
	var link string
	poll.Until(t, 15*time.Second, "a survey SMS "+about+" to "+phone, func() bool {
		for _, m := range s.sms.to(phone) {
			if l := surveyLink.FindString(m); l != "" && strings.Contains(m, about) {
				link = l
			}
		}
		return link != ""
	})
	resp, err := s.http.PostForm(link, url.Values{"score": {fmt.Sprint(score)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answering %d through %s: HTTP %d", score, link, resp.StatusCode)
	}
}

// settled waits until every consumer of the system has nothing pending.
func (s *system) settled(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	consumers := [][2]string{{topology.Journey, topology.ProfileConsumer}, {topology.Journey, topology.TriggerConsumer},
		{topology.SurveyInvitations, "survey"}, {topology.NotificationRequests, topology.NotificationConsumer}}
	poll.Until(t, 30*time.Second, "every consumer caught up", func() bool {
		// Pending counts follow a publish a moment later: the journey's
		// consumers must also have acknowledged its last event.
		st, err := s.nats.JS.Stream(ctx, topology.Journey)
		if err != nil {
			return false
		}
		si, err := st.Info(ctx)
		if err != nil {
			return false
		}
		for _, c := range consumers {
			cons, err := s.nats.JS.Consumer(ctx, c[0], c[1])
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || c[0] == topology.Journey && info.AckFloor.Stream < si.State.LastSeq {
				return false
			}
		}
		return true
	})
}

func (s *system) journeyCount(t *testing.T, typ string) uint64 {
	t.Helper()
	st, err := s.nats.JS.Stream(context.Background(), topology.Journey)
	if err != nil {
		t.Fatal(err)
	}
	subject := "cx." + tenant + ".journey." + typ
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// TestOneJourneyThroughTheWholeSystem is the product's story: a shop's
// events in (HTTP and a Shopify webhook), the profile built, the default
// pack's satisfaction survey by SMS after delivery, an answer through its
// signed link on the profile, a detractor's answer turned into a task for an
// agent, the win-back after a customer goes quiet, and the same events sent
// again changing nothing anywhere.
func TestOneJourneyThroughTheWholeSystem(t *testing.T) {
	s := start(t)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	sara := `{"customer_id":"c-sara","phone":"+989121110000"}`
	const saraPhone, rezaPhone = "+989121110000", "+989122220000"

	// 1. Sara signs up and orders over HTTP; Reza's order comes as a
	// Shopify webhook.
	batch := `{"events":[` +
		`{"id":"sara-signup","type":"customer.updated","customer":` + sara + `,"occurred_at":"` + at(0) + `","customer_updated":{"first_name":"سارا","locale":"fa","time_zone":"Asia/Tehran","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true}]}},` +
		`{"id":"o-1001-placed","type":"order.placed","customer":` + sara + `,"occurred_at":"` + at(time.Millisecond) + `","order_placed":{"order_id":"1001","total":{"currency":"IRT","amount":"960000"},"items":[{"product":{"product_id":"tea-saffron"},"quantity":2}]}},` +
		`{"id":"o-1001-paid","type":"order.paid","customer":` + sara + `,"occurred_at":"` + at(2*time.Millisecond) + `","order_paid":{"order_id":"1001","amount":{"currency":"IRT","amount":"960000"}}},` +
		`{"id":"o-1001-shipped","type":"order.shipped","customer":` + sara + `,"occurred_at":"` + at(3*time.Millisecond) + `","order_shipped":{"order_id":"1001","carrier":"Post"}},` +
		`{"id":"o-1001-delivered","type":"order.delivered","customer":` + sara + `,"occurred_at":"` + at(4*time.Millisecond) + `","order_delivered":{"order_id":"1001"}},` +
		`{"id":"reza-signup","type":"customer.updated","customer":{"customer_id":"7001","phone":"` + rezaPhone + `"},"occurred_at":"` + at(0) + `","customer_updated":{"first_name":"Reza","locale":"en","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true}]}}]}`
	if code, body := s.post(t, "/v1/events:batch", batch, nil); code != http.StatusOK || strings.Contains(body, `"rejected"`) && !strings.Contains(body, `"rejected":0`) {
		t.Fatalf("batch: %d %s", code, body)
	}
	shopify := `{"id":5001,"email":"reza@example.com","created_at":"` + at(time.Millisecond) + `","currency":"IRT","total_price":"1250000.00","customer":{"id":7001,"email":"reza@example.com"},"line_items":[{"product_id":11,"sku":"TEA-1KG","title":"Black tea","quantity":1,"price":"1250000.00"}]}`
	mac := hmac.New(sha256.New, []byte(shopifySecret))
	mac.Write([]byte(shopify))
	webhook := map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-5001", "X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	if code, body := s.post(t, "/v1/webhooks/shopify/"+tenant, shopify, webhook); code != http.StatusAccepted {
		t.Fatalf("shopify webhook: %d %s", code, body)
	}

	// 2. The profile shows the order; a "week" after delivery the
	// satisfaction survey reaches Sara's phone (she prefers SMS).
	poll.Until(t, 15*time.Second, "Sara's profile with her delivered order", func() bool {
		p := s.profileOf(t, &journeyv1.Customer{CustomerId: "c-sara"})
		return p.GetCommerce().GetOrderCount() == 1 && p.GetTraits().GetPreferredChannel() == journeyv1.Channel_CHANNEL_SMS
	})
	poll.Until(t, 15*time.Second, "Reza's profile with his Shopify order", func() bool {
		p := s.profileOf(t, &journeyv1.Customer{CustomerId: "7001"})
		return p.GetCommerce().GetOrderCount() == 1 && len(p.GetIdentities().GetEmails()) == 1
	})

	// 3. Sara answers 4 through the signed link: her profile shows it.
	s.answer(t, saraPhone, "تحویل", 4)
	poll.Until(t, 15*time.Second, "Sara's CSAT of 4 on her profile", func() bool {
		c := s.profileOf(t, &journeyv1.Customer{CustomerId: "c-sara"}).GetFeedback().GetLastCsat()
		return c.GetScore() == 4 && c.GetSurveyId() == "csat-delivery" && c.GetTouchpoint() == "order:1001"
	})
	// Reza is asked how likely he is to recommend the shop and answers 3:
	// a follow-up task for an agent.
	if _, err := s.surveys.Invite(context.Background(), &surveyv1.InviteRequest{Tenant: tenant, SurveyId: "nps", Touchpoint: "order:5001",
		Customer: &journeyv1.Customer{CustomerId: "7001"}, Channel: journeyv1.Channel_CHANNEL_SMS}); err != nil {
		t.Fatalf("Invite: %v", err)
	}
	s.answer(t, rezaPhone, "recommend", 3)
	answered := time.Now()
	var task *triggerv1.Task
	poll.Until(t, 15*time.Second, "a follow-up task for Reza", func() bool {
		r, err := s.triggers.ListTasks(context.Background(), &triggerv1.ListTasksRequest{Tenant: tenant})
		for _, tk := range r.GetTasks() {
			if err == nil && tk.GetCustomer().GetCustomerId() == "7001" && tk.GetRuleId() == "nps-detractor-follow-up" {
				task = tk
			}
		}
		return task != nil
	})
	t.Logf("the detractor's task appeared %v after the answer", time.Since(answered).Round(time.Millisecond))

	// 4. Sara goes quiet: the profile puts her at risk, and the pack's
	// win-back reaches her phone.
	poll.Until(t, 30*time.Second, "Sara at risk", func() bool {
		for _, seg := range s.profileOf(t, &journeyv1.Customer{CustomerId: "c-sara"}).GetSegments() {
			if seg == "at_risk" {
				return true
			}
		}
		return false
	})
	poll.Until(t, 30*time.Second, "the win-back SMS to Sara", func() bool {
		for _, m := range s.sms.to(saraPhone) {
			if strings.Contains(m, "دلمان برایتان تنگ شده") {
				return true
			}
		}
		return false
	})

	// Reza, quiet since his answer, gets his too (in English); after it
	// nothing is due any more.
	poll.Until(t, 30*time.Second, "the win-back SMS to Reza", func() bool {
		for _, m := range s.sms.to(rezaPhone) {
			if strings.Contains(m, "we miss you") {
				return true
			}
		}
		return false
	})

	// 5. The same events again: accepted as duplicates, and nothing changes.
	s.settled(t)
	sms, fired, tasks := s.sms.total(), s.journeyCount(t, "trigger.fired"), len(mustTasks(t, s))
	if code, body := s.post(t, "/v1/events:batch", batch, nil); code != http.StatusOK || !strings.Contains(body, `"duplicate"`) {
		t.Fatalf("the batch again: %d %s", code, body)
	}
	if code, body := s.post(t, "/v1/webhooks/shopify/"+tenant, shopify, webhook); code/100 != 2 {
		t.Fatalf("the webhook again: %d %s", code, body)
	}
	s.settled(t)
	if got := s.sms.total(); got != sms || s.sms.dups != 0 {
		t.Fatalf("SMS: %d after the repeat, %d before; %d repeated sends", got, sms, s.sms.dups)
	}
	if got := s.journeyCount(t, "trigger.fired"); got != fired {
		t.Fatalf("trigger.fired: %d after the repeat, %d before", got, fired)
	}
	if got := len(mustTasks(t, s)); got != tasks {
		t.Fatalf("tasks: %d after the repeat, %d before", got, tasks)
	}
	if p := s.profileOf(t, &journeyv1.Customer{CustomerId: "c-sara"}); p.GetCommerce().GetOrderCount() != 1 {
		t.Fatalf("Sara's orders after the repeat: %d, want 1", p.GetCommerce().GetOrderCount())
	}
}

func mustTasks(t *testing.T, s *system) []*triggerv1.Task {
	t.Helper()
	r, err := s.triggers.ListTasks(context.Background(), &triggerv1.ListTasksRequest{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetTasks()
}
