package ports_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
)

// profileBin is the real profile service, which rules read profiles from.
var profileBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.RunWithBinaries(m, map[string]*string{"github.com/bazgasht/bazgasht/services/profile/cmd/profile": &profileBin}))
}

// env is the trigger engine over a real in-process nats-server, with the
// real profile service running beside it.
type env struct {
	nats     *natstest.Server
	pub      *journeystream.Publisher
	rules    *adapters.RuleStore
	tasks    *adapters.TaskKVStore
	profiles *adapters.ProfileClient
	engine   *app.Engine
	cancel   context.CancelFunc
	done     chan struct{}
	// globalCap bounds firings per customer across rules (zero: none).
	globalCap app.GlobalCap
}

func newEnv(t *testing.T, rules ...rule.Rule) *env {
	t.Helper()
	return newEnvCapped(t, app.GlobalCap{}, rules...)
}

// newEnvCapped is newEnv with a global per-customer cap across rules.
func newEnvCapped(t *testing.T, globalCap app.GlobalCap, rules ...rule.Rule) *env {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	for _, set := range []topology.Set{topology.Trigger(topology.Options{}), topology.Profile(topology.Options{})} {
		if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
			t.Fatal(err)
		}
	}
	prefix := redistest.Prefix(t, redistest.Client(t))
	profileAddr := proctest.StartProfile(t, profileBin, srv.URL, redistest.URL(), prefix)

	e := &env{nats: srv, globalCap: globalCap}
	var err error
	if e.rules, err = adapters.NewRuleStore(ctx, srv.JS, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if _, err := e.rules.Put(ctx, "demo", r, 0, true); err != nil {
			t.Fatalf("rule %s: %v", r.ID, err)
		}
	}
	if e.pub, err = journeystream.NewPublisher(srv.NC, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if e.tasks, err = adapters.NewTaskKVStore(ctx, srv.JS); err != nil {
		t.Fatal(err)
	}
	if e.profiles, err = adapters.NewProfileClient(profileAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.profiles.Close() })
	e.start(t, e.profiles)
	return e
}

func (e *env) profileDoc(t *testing.T) (map[string]any, error) {
	t.Helper()
	return e.profiles.Profile(context.Background(), "demo", app.Customer{CustomerID: "c-sara"}, "")
}

func (e *env) start(t *testing.T, profiles app.ProfileReader) {
	t.Helper()
	ctx := context.Background()
	state, err := adapters.NewKVState(ctx, e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	timers, err := adapters.NewTimerScheduler(ctx, e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := adapters.NewActor(e.nats.JS, e.pub, e.tasks, adapters.ActorConfig{HTTPTimeout: 5 * time.Second}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if e.engine, err = app.NewEngine(e.rules, profiles, timers, state, actor, e.globalCap, time.Now); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	e.cancel, e.done = cancel, make(chan struct{}, 3)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("TRIGGER_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	go func() { _ = e.rules.Run(cctx); e.done <- struct{}{} }()
	if err := e.rules.WaitReady(natstest.Context(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	events, err := e.nats.JS.Consumer(ctx, topology.Journey, topology.TriggerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	fired, err := e.nats.JS.Consumer(ctx, topology.TriggerTimers, topology.TriggerTimerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = journeystream.ConsumeConcurrently(cctx, e.nats.JS, events, journeystream.ConcurrentConfig{
			ConsumeConfig: journeystream.ConsumeConfig{Durable: topology.TriggerConsumer, MaxDeliver: topology.TriggerMaxDeliver,
				Batch: 8, MaxWait: 50 * time.Millisecond, RetryDelay: 100 * time.Millisecond},
			Workers: 8, Key: ports.CustomerKey}, ports.EventHandler(e.engine), log)
		e.done <- struct{}{}
	}()
	go func() {
		_ = ports.ConsumeTimers(cctx, e.nats.JS, fired, ports.TimerConfig{Durable: topology.TriggerTimerConsumer, MaxDeliver: topology.TriggerMaxDeliver,
			Batch: 8, MaxWait: 50 * time.Millisecond, RetryDelay: 100 * time.Millisecond, Workers: 8}, e.engine, log)
		e.done <- struct{}{}
	}()
	t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		for range 3 {
			<-e.done
		}
		e.cancel = nil
	}
}

func (e *env) publish(t *testing.T, evs ...*journeyv1.JourneyEvent) {
	t.Helper()
	for i, a := range e.pub.Publish(context.Background(), evs) {
		if a.Err != nil {
			t.Fatalf("publish %s: %v", evs[i].GetId(), a.Err)
		}
	}
}

// queued reads every request on a work-queue subject without taking it.
func queued[M proto.Message](t *testing.T, e *env, stream, subject string, newM func() M) []M {
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
	var out []M
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil || m.Subject != subject {
			continue
		}
		x := newM()
		if err := proto.Unmarshal(m.Data, x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func invitations(t *testing.T, e *env) []*surveyv1.InviteRequest {
	return queued(t, e, topology.SurveyInvitations, "cx.demo.survey.invite", func() *surveyv1.InviteRequest { return &surveyv1.InviteRequest{} })
}

func notifications(t *testing.T, e *env) []*notificationv1.SendRequest {
	return queued(t, e, topology.NotificationRequests, "cx.demo.notification.send", func() *notificationv1.SendRequest { return &notificationv1.SendRequest{} })
}

// firings reads every trigger.fired event of tenant demo.
func firings(t *testing.T, e *env) []*journeyv1.TriggerFired {
	t.Helper()
	ctx := context.Background()
	c, err := e.nats.JS.OrderedConsumer(ctx, topology.Journey, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"cx.demo.journey.trigger.fired"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*journeyv1.TriggerFired
	for {
		msgs, err := c.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			ev := &journeyv1.JourneyEvent{}
			if err := proto.Unmarshal(m.Data(), ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev.GetTriggerFired())
		}
		if n == 0 {
			return out
		}
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, d, what, cond)
}

// settled waits until both trigger consumers have processed everything.
func (e *env) settled(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 15*time.Second, "trigger consumers settle", func() bool {
		// A consumer's pending count follows a publish a moment later: the
		// journey consumer must also have acknowledged the stream's last
		// event, or a check right after a publish passes before anything
		// was handled.
		js, err := e.nats.JS.Stream(ctx, topology.Journey)
		if err != nil {
			return false
		}
		si, err := js.Info(ctx)
		if err != nil {
			return false
		}
		jc, err := e.nats.JS.Consumer(ctx, topology.Journey, topology.TriggerConsumer)
		if err != nil {
			return false
		}
		if ji, err := jc.Info(ctx); err != nil || ji.AckFloor.Stream < si.State.LastSeq {
			return false
		}
		for _, c := range []struct{ stream, durable string }{{topology.Journey, topology.TriggerConsumer}, {topology.TriggerTimers, topology.TriggerTimerConsumer}} {
			cons, err := e.nats.JS.Consumer(ctx, c.stream, c.durable)
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 || info.AckFloor.Stream < info.Delivered.Stream {
				return false
			}
		}
		return true
	})
}

var sara = &journeyv1.Customer{CustomerId: "c-sara", Phone: "+989121234567"}

func ev(id, typ string, at time.Time) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Tenant: "demo", Type: typ, Customer: sara, OccurredAt: timestamppb.New(at), ReceivedAt: timestamppb.Now(), Source: "api"}
}

func delivered(id, order string, at time.Time) *journeyv1.JourneyEvent {
	e := ev(id, "order.delivered", at)
	e.Payload = &journeyv1.JourneyEvent_OrderDelivered{OrderDelivered: &journeyv1.OrderDelivered{OrderId: order}}
	return e
}

func refunded(id, order string, at time.Time) *journeyv1.JourneyEvent {
	e := ev(id, "order.refunded", at)
	e.Payload = &journeyv1.JourneyEvent_OrderRefunded{OrderRefunded: &journeyv1.OrderRefunded{OrderId: order, Amount: &journeyv1.Money{Currency: "IRT", Amount: "1"}}}
	return e
}

func dur(d time.Duration) rule.Duration { return rule.Duration(d) }

func satisfactionRule(delay time.Duration) rule.Rule {
	return rule.Rule{ID: "satisfaction", Name: "Satisfaction check after delivery", Enabled: true, Kind: rule.AfterDelay,
		Start: &rule.EventMatch{Type: "order.delivered"}, Delay: dur(delay),
		Stop:      []rule.EventMatch{{Type: "order.refunded"}, {Type: "order.cancelled"}},
		Correlate: []rule.Correlation{{Start: "event.order_delivered.order_id", Other: "event.order_refunded.order_id"}},
		Actions:   []rule.Action{{Survey: &rule.SurveyAction{SurveyID: "csat-delivery", Channel: "auto"}}}}
}

func TestDelayRuleFiresAfterTheDelayUnlessStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, satisfactionRule(2*time.Second))
	now := time.Now()
	e.publish(t, delivered("d1", "1001", now), delivered("d2", "1002", now), refunded("r2", "1002", now.Add(time.Second)))
	e.settled(t)
	if n := len(invitations(t, e)); n != 0 {
		t.Fatalf("%d invitations before the delay passed, want 0", n)
	}
	eventually(t, 10*time.Second, "satisfaction survey after the delay", func() bool { return len(invitations(t, e)) >= 1 })
	e.settled(t)
	inv := invitations(t, e)
	if len(inv) != 1 || inv[0].GetSurveyId() != "csat-delivery" || inv[0].GetTouchpoint() != "order:1001" || inv[0].GetCustomer().GetCustomerId() != "c-sara" {
		t.Fatalf("invitations = %v, want one csat-delivery for order:1001 (order 1002 was refunded)", inv)
	}
	if late := time.Since(now); late > 2*time.Second+1500*time.Millisecond {
		t.Logf("fired %v after the delivery (2 s delay)", late)
	}
	f := firings(t, e)
	if len(f) != 1 || f[0].GetRuleId() != "satisfaction" || f[0].GetRuleVersion() != 1 || f[0].GetSuppressed() {
		t.Fatalf("trigger.fired = %v", f)
	}
}

func TestImportedHistoryDoesNotFireStaleTimers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, satisfactionRule(7*24*time.Hour))
	e.publish(t, delivered("old", "900", time.Now().Add(-30*24*time.Hour)))
	e.settled(t)
	pending, err := adaptersPending(e)
	if err != nil {
		t.Fatal(err)
	}
	if pending != 0 || len(invitations(t, e)) != 0 {
		t.Fatalf("a delivery 30 days old set %d timers and %d invitations; want none", pending, len(invitations(t, e)))
	}
}

func adaptersPending(e *env) (uint64, error) {
	s, err := adapters.NewTimerScheduler(context.Background(), e.nats.JS)
	if err != nil {
		return 0, err
	}
	return s.Pending(context.Background())
}

func TestTimerSurvivesARestartAndFiresOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, satisfactionRule(2*time.Second))
	e.publish(t, delivered("d1", "1001", time.Now()))
	e.settled(t)
	if n, _ := adaptersPending(e); n != 1 {
		t.Fatalf("pending timers = %d, want 1", n)
	}
	e.stop() // the trigger service goes down with the timer pending ...
	eventually(t, 10*time.Second, "the timer fires while the service is down", func() bool {
		n, err := adaptersPending(e)
		return err == nil && n == 0
	})
	e.start(t, e.profiles) // ... and finds the fired timer when it is back

	eventually(t, 10*time.Second, "the timer fires after the restart", func() bool { return len(invitations(t, e)) == 1 })
	e.settled(t)
	if n := len(invitations(t, e)); n != 1 {
		t.Fatalf("%d invitations, want exactly 1", n)
	}
}

func TestDuplicateEventsFireOnce(t *testing.T) {
	t.Parallel()
	detractor := rule.Rule{ID: "detractor-task", Name: "Detractor follow-up", Enabled: true, Kind: rule.OnEvent,
		Start: &rule.EventMatch{Type: "survey.responded", Conditions: []rule.Condition{
			{Path: "event.survey_responded.kind", Op: rule.Eq, Values: []string{"SURVEY_KIND_NPS"}},
			{Path: "event.survey_responded.score", Op: rule.Lte, Values: []string{"6"}}}},
		Actions:  []rule.Action{{Task: &rule.TaskAction{Reason: "NPS detractor: call the customer", Priority: "high", DueIn: dur(time.Hour)}}},
		Controls: rule.Controls{ExemptFromGlobalCap: true, Reentry: true}}
	e := newEnv(t, detractor)
	// A score of 0, the lowest: zero values must reach the conditions.
	resp := ev("nps-1", "survey.responded", time.Now())
	resp.Payload = &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: "nps", Kind: journeyv1.SurveyKind_SURVEY_KIND_NPS, Score: 0}}
	e.publish(t, resp)
	// The same event again past JetStream's deduplication: stored twice.
	data, _ := proto.Marshal(resp)
	if _, err := e.nats.JS.Publish(context.Background(), "cx.demo.journey.survey.responded", data); err != nil {
		t.Fatal(err)
	}
	e.settled(t)
	tasks, _, err := e.tasks.List(context.Background(), "demo", task.Filter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].Priority != "high" || tasks[0].State != task.Open || tasks[0].RuleID != "detractor-task" {
		t.Fatalf("tasks = %+v, want one open high-priority detractor task", tasks)
	}
	if f := firings(t, e); len(f) != 1 {
		t.Fatalf("trigger.fired %d times, want once", len(f))
	}
}

func TestCapSuppressesAndSaysWhy(t *testing.T) {
	t.Parallel()
	csat := rule.Rule{ID: "csat-support", Name: "CSAT after a ticket", Enabled: true, Kind: rule.OnEvent,
		Start:    &rule.EventMatch{Type: "ticket.resolved"},
		Actions:  []rule.Action{{Survey: &rule.SurveyAction{SurveyID: "csat-support", Transactional: true}}},
		Controls: rule.Controls{CapPerCustomer: 1, CapWindow: dur(24 * time.Hour)}}
	e := newEnv(t, csat)
	for i, tk := range []string{"77", "78"} {
		r := ev(fmt.Sprintf("res-%d", i), "ticket.resolved", time.Now())
		r.Payload = &journeyv1.JourneyEvent_TicketResolved{TicketResolved: &journeyv1.TicketResolved{TicketId: tk}}
		e.publish(t, r)
	}
	e.settled(t)
	f := firings(t, e)
	if len(f) != 2 || f[0].GetSuppressed() || !f[1].GetSuppressed() || f[1].GetSuppressionReason() != "cap" {
		t.Fatalf("firings = %v, want one acting and one suppressed by the cap", f)
	}
	if inv := invitations(t, e); len(inv) != 1 || inv[0].GetTouchpoint() != "ticket:77" {
		t.Fatalf("invitations = %v, want only ticket:77", inv)
	}
}

// The global cap counts firings across rules and across the two consumers
// that fire them (events, and timers a second later): of five firings of
// one customer, exactly two act. (Firings racing for the last slot are
// shown by TestReserveGivesACapsSlotsOnceUnderRaces.)
func TestGlobalCapHoldsAcrossRulesAndConsumers(t *testing.T) {
	t.Parallel()
	thanks := rule.Rule{ID: "thanks", Name: "Thanks for every resolved ticket", Enabled: true, Kind: rule.OnEvent,
		Start:    &rule.EventMatch{Type: "ticket.resolved"},
		Actions:  []rule.Action{{Notify: &rule.NotifyAction{Template: "thanks", Channel: "auto"}}},
		Controls: rule.Controls{Reentry: true}}
	e := newEnvCapped(t, app.GlobalCap{Count: 2, Window: time.Hour}, thanks, satisfactionRule(time.Second))
	now := time.Now()
	var evs []*journeyv1.JourneyEvent
	for i := range 4 {
		r := ev(fmt.Sprintf("res-%d", i), "ticket.resolved", now)
		r.Payload = &journeyv1.JourneyEvent_TicketResolved{TicketResolved: &journeyv1.TicketResolved{TicketId: fmt.Sprint(70 + i)}}
		evs = append(evs, r)
	}
	e.publish(t, append([]*journeyv1.JourneyEvent{delivered("d1", "1001", now)}, evs...)...)
	eventually(t, 20*time.Second, "five firings announced", func() bool { return len(firings(t, e)) == 5 })
	e.settled(t)
	acted, capped := 0, 0
	for _, f := range firings(t, e) {
		switch {
		case !f.GetSuppressed():
			acted++
		case f.GetSuppressionReason() == "global_cap":
			capped++
		default:
			t.Fatalf("firing %v suppressed for %q, want global_cap", f, f.GetSuppressionReason())
		}
	}
	if acted != 2 || capped != 3 {
		t.Fatalf("%d acted and %d were capped, want 2 and 3", acted, capped)
	}
	if got := len(invitations(t, e)) + len(notifications(t, e)); got != 2 {
		t.Fatalf("%d requests queued, want the 2 that acted", got)
	}
}

func TestAbsenceRuleFiresOnlyForTheProductNotBought(t *testing.T) {
	t.Parallel()
	discount := rule.Rule{ID: "viewed-discount", Name: "Discount for a product viewed and not bought", Enabled: true, Kind: rule.Absence,
		Start: &rule.EventMatch{Type: "product.viewed"}, Absent: &rule.EventMatch{Type: "order.placed"}, Within: dur(2 * time.Second),
		Correlate: []rule.Correlation{{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"}},
		Actions:   []rule.Action{{Notify: &rule.NotifyAction{Template: "viewed-discount", Variables: map[string]string{"product_id": "{event.product_viewed.product.product_id}"}}}}}
	e := newEnv(t, discount)
	now := time.Now()
	view := func(id, product string) *journeyv1.JourneyEvent {
		v := ev(id, "product.viewed", now)
		v.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: product}}}
		return v
	}
	order := ev("o1", "order.placed", now.Add(500*time.Millisecond))
	order.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: "5", Total: &journeyv1.Money{Currency: "IRT", Amount: "10"},
		Items: []*journeyv1.LineItem{{Product: &journeyv1.Product{ProductId: "tea"}, Quantity: 1}}}}
	e.publish(t, view("v1", "tea"), view("v2", "saffron"), order)
	eventually(t, 10*time.Second, "the discount for saffron", func() bool { return len(notifications(t, e)) >= 1 })
	e.settled(t)
	n := notifications(t, e)
	if len(n) != 1 || n[0].GetTemplateId() != "viewed-discount" || n[0].GetVariables()["product_id"] != "saffron" {
		t.Fatalf("notifications = %v, want one viewed-discount for saffron (tea was bought)", n)
	}
}

func TestInactivityFiresAtTheMomentNotAtTheNextEvent(t *testing.T) {
	t.Parallel()
	winback := rule.Rule{ID: "winback", Name: "Win-back after silence", Enabled: true, Kind: rule.Inactivity, Period: dur(2 * time.Second),
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "winback", Channel: "auto"}}}}
	e := newEnv(t, winback)
	v := ev("act-1", "cart.updated", time.Now())
	v.Payload = &journeyv1.JourneyEvent_CartUpdated{CartUpdated: &journeyv1.CartUpdated{CartId: "k"}}
	e.publish(t, v)
	eventually(t, 10*time.Second, "win-back after 2 s of silence", func() bool { return len(notifications(t, e)) == 1 })
	e.settled(t)
	if n := notifications(t, e); len(n) != 1 || n[0].GetTemplateId() != "winback" {
		t.Fatalf("notifications = %v", n)
	}
}

func TestSegmentEntryFires(t *testing.T) {
	t.Parallel()
	vip := rule.Rule{ID: "vip-welcome", Name: "VIP welcome", Enabled: true, Kind: rule.SegmentEntry, Segment: "vip",
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "vip-welcome"}}}}
	e := newEnv(t, vip)
	entered := ev("segment:p1:vip:entered:1", "segment.entered", time.Now())
	entered.Source = "profile"
	entered.Payload = &journeyv1.JourneyEvent_SegmentEntered{SegmentEntered: &journeyv1.SegmentEntered{Segment: "vip"}}
	other := ev("segment:p1:repeat:entered:1", "segment.entered", time.Now())
	other.Payload = &journeyv1.JourneyEvent_SegmentEntered{SegmentEntered: &journeyv1.SegmentEntered{Segment: "repeat"}}
	e.publish(t, entered, other)
	e.settled(t)
	if n := notifications(t, e); len(n) != 1 || n[0].GetTemplateId() != "vip-welcome" {
		t.Fatalf("notifications = %v, want one vip-welcome", n)
	}
}

func TestProfileConditionsReadTheProfile(t *testing.T) {
	t.Parallel()
	bigOrder := rule.Rule{ID: "big-order", Name: "Thanks for a bigger order than usual", Enabled: true, Kind: rule.OnEvent,
		Start: &rule.EventMatch{Type: "order.placed"},
		Conditions: []rule.Condition{{Path: "event.order_placed.total.amount", Op: rule.Gt,
			ValuePath: "profile.commerce.by_currency[currency=IRT].previous_average_order_value.amount", Factor: "2"}},
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "big-order-thanks"}}}}
	e := newEnv(t, bigOrder)
	placed := func(id, amount string, at time.Time) *journeyv1.JourneyEvent {
		o := ev(id, "order.placed", at)
		o.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: id, Total: &journeyv1.Money{Currency: "IRT", Amount: amount}}}
		return o
	}
	base := time.Now().Add(-time.Hour)
	e.publish(t, placed("o1", "100000", base), placed("o2", "100000", base.Add(time.Minute)))
	e.settled(t)
	// The profile service folds the two orders (AOV 100000) ...
	eventually(t, 10*time.Second, "the profile shows two orders", func() bool {
		doc, err := e.profileDoc(t)
		if err != nil || doc == nil {
			return false
		}
		c, _ := doc["commerce"].(map[string]any)
		return fmt.Sprint(c["order_count"]) == "2"
	})
	// ... so 150000 is not "more than twice the usual", 250000 is.
	e.publish(t, placed("o3", "150000", time.Now()), placed("o4", "250000", time.Now()))
	e.settled(t)
	eventually(t, 10*time.Second, "a thank-you for the big order", func() bool { return len(notifications(t, e)) >= 1 })
	if n := notifications(t, e); len(n) != 1 {
		t.Fatalf("notifications = %d, want 1 (only the order above twice the AOV)", len(n))
	}
}

func TestBackInStockReachesTheCustomersWhoseFavouriteItIs(t *testing.T) {
	t.Parallel()
	back := rule.Rule{ID: "back-in-stock", Name: "Your favourite is back", Enabled: true, Kind: rule.OnEvent,
		Start: &rule.EventMatch{Type: "product.back_in_stock"},
		Conditions: []rule.Condition{{Path: "profile.commerce.favourite_product_ids", Op: rule.Contains,
			ValuePath: "event.product_back_in_stock.product.product_id"}},
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "back-in-stock", Variables: map[string]string{"product_id": "{event.product_back_in_stock.product.product_id}"}}}}}
	e := newEnv(t, back)
	order := func(id string, c *journeyv1.Customer, products ...string) *journeyv1.JourneyEvent {
		o := ev(id, "order.placed", time.Now().Add(-time.Hour))
		o.Customer = c
		var items []*journeyv1.LineItem
		for _, p := range products {
			items = append(items, &journeyv1.LineItem{Product: &journeyv1.Product{ProductId: p}, Quantity: 1})
		}
		o.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: id, Total: &journeyv1.Money{Currency: "IRT", Amount: "10"}, Items: items}}
		return o
	}
	ali := &journeyv1.Customer{CustomerId: "c-ali"}
	// Sara's favourites include saffron; Ali bought saffron too, but the
	// other six products he bought more push it out of his top five.
	e.publish(t, order("s1", sara, "saffron"), order("a1", ali, "saffron", "p1", "p2", "p3", "p4", "p5"), order("a2", ali, "p1", "p2", "p3", "p4", "p5"))
	e.settled(t)
	eventually(t, 10*time.Second, "the profile service folds both customers", func() bool {
		d, err := e.profiles.Profile(context.Background(), "demo", app.Customer{CustomerID: "c-ali"}, "")
		c, _ := d["commerce"].(map[string]any)
		return err == nil && fmt.Sprint(c["order_count"]) == "2"
	})
	restock := &journeyv1.JourneyEvent{Id: "restock-1", Tenant: "demo", Type: "product.back_in_stock", OccurredAt: timestamppb.Now(), Source: "api",
		Payload: &journeyv1.JourneyEvent_ProductBackInStock{ProductBackInStock: &journeyv1.ProductBackInStock{Product: &journeyv1.Product{ProductId: "saffron"}}}}
	e.publish(t, restock)
	e.settled(t)
	n := notifications(t, e)
	if len(n) != 1 || n[0].GetCustomer().GetCustomerId() != "c-sara" || n[0].GetVariables()["product_id"] != "saffron" {
		t.Fatalf("notifications = %v, want one back-in-stock for Sara only", n)
	}
}

func TestAWaitStartedAnonymouslyEndsWhenTheIdentifiedCustomerBuys(t *testing.T) {
	t.Parallel()
	discount := rule.Rule{ID: "viewed-discount", Name: "Discount for a product viewed and not bought", Enabled: true, Kind: rule.Absence,
		Start: &rule.EventMatch{Type: "product.viewed"}, Absent: &rule.EventMatch{Type: "order.placed"}, Within: dur(3 * time.Second),
		Correlate: []rule.Correlation{{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"}},
		Actions:   []rule.Action{{Notify: &rule.NotifyAction{Template: "viewed-discount"}}}}
	e := newEnv(t, discount)
	now := time.Now()
	anon := &journeyv1.Customer{AnonymousId: "anon-9"}
	view := ev("v1", "product.viewed", now)
	view.Customer = anon
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "tea"}}}
	signup := ev("u1", "customer.updated", now.Add(100*time.Millisecond))
	signup.Customer = &journeyv1.Customer{CustomerId: "c-sara", AnonymousId: "anon-9"}
	signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Sara"}}
	e.publish(t, view, signup)
	eventually(t, 10*time.Second, "the profile joins the visit to Sara", func() bool {
		d, err := e.profileDoc(t)
		ids, _ := d["identities"].(map[string]any)
		return err == nil && fmt.Sprint(ids["anonymous_ids"]) == "[anon-9]"
	})
	order := ev("o1", "order.placed", now.Add(time.Second))
	order.Customer = &journeyv1.Customer{CustomerId: "c-sara"}
	order.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: "1", Total: &journeyv1.Money{Currency: "IRT", Amount: "10"},
		Items: []*journeyv1.LineItem{{Product: &journeyv1.Product{ProductId: "tea"}, Quantity: 1}}}}
	e.publish(t, order)
	e.settled(t)
	eventually(t, 10*time.Second, "the wait's moment passes", func() bool { n, err := adaptersPending(e); return err == nil && n == 0 })
	e.settled(t)
	if n := notifications(t, e); len(n) != 0 {
		t.Fatalf("notifications = %v; the visitor bought the product as Sara, no discount is due", n)
	}
}

// The purchase can reach the trigger before anything tells that the
// visitor and the buyer are one customer (here the sign-up that joins them
// comes last): the wait still ends, because when it does the profile
// knows them as one.
func TestAWaitEndsWhenTheBuyerIsJoinedToTheVisitorOnlyLater(t *testing.T) {
	t.Parallel()
	discount := rule.Rule{ID: "viewed-discount", Name: "Discount for a product viewed and not bought", Enabled: true, Kind: rule.Absence,
		Start: &rule.EventMatch{Type: "product.viewed"}, Absent: &rule.EventMatch{Type: "order.placed"}, Within: dur(3 * time.Second),
		Correlate: []rule.Correlation{{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"}},
		Actions:   []rule.Action{{Notify: &rule.NotifyAction{Template: "viewed-discount"}}}}
	e := newEnv(t, discount)
	now := time.Now()
	view := ev("v1", "product.viewed", now)
	view.Customer = &journeyv1.Customer{AnonymousId: "anon-9"}
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "tea"}}}
	order := ev("o1", "order.placed", now.Add(time.Second))
	order.Customer = &journeyv1.Customer{CustomerId: "c-sara"}
	order.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: "1", Total: &journeyv1.Money{Currency: "IRT", Amount: "10"},
		Items: []*journeyv1.LineItem{{Product: &journeyv1.Product{ProductId: "tea"}, Quantity: 1}}}}
	e.publish(t, view, order)
	e.settled(t)
	signup := ev("u1", "customer.updated", now.Add(1500*time.Millisecond))
	signup.Customer = &journeyv1.Customer{CustomerId: "c-sara", AnonymousId: "anon-9"}
	signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Sara"}}
	e.publish(t, signup)
	eventually(t, 10*time.Second, "the wait's moment passes", func() bool { n, err := adaptersPending(e); return err == nil && n == 0 })
	e.settled(t)
	if n := notifications(t, e); len(n) != 0 {
		t.Fatalf("notifications = %v; the visitor bought the product as Sara, no discount is due", n)
	}
	if f := firings(t, e); len(f) != 0 {
		t.Fatalf("firings = %v, want none", f)
	}
}

func TestOldCausesDoNotAct(t *testing.T) {
	t.Parallel()
	csat := rule.Rule{ID: "csat-support", Name: "CSAT after a ticket", Enabled: true, Kind: rule.OnEvent, Start: &rule.EventMatch{Type: "ticket.resolved"},
		Actions: []rule.Action{{Survey: &rule.SurveyAction{SurveyID: "csat-support", Transactional: true}}}, Controls: rule.Controls{Reentry: true}}
	e := newEnv(t, csat)
	// An imported history: a ticket resolved last month.
	old := ev("res-old", "ticket.resolved", time.Now().Add(-30*24*time.Hour))
	old.Payload = &journeyv1.JourneyEvent_TicketResolved{TicketResolved: &journeyv1.TicketResolved{TicketId: "1"}}
	e.publish(t, old)
	e.settled(t)
	if n := len(invitations(t, e)); n != 0 {
		t.Fatalf("a month-old ticket got %d survey invitations, want none", n)
	}
}

func TestEditingARuleDoesNotLetALateDuplicateActAgain(t *testing.T) {
	t.Parallel()
	csat := rule.Rule{ID: "csat-support", Name: "CSAT after a ticket", Enabled: true, Kind: rule.OnEvent, Start: &rule.EventMatch{Type: "ticket.resolved"},
		Actions: []rule.Action{{Survey: &rule.SurveyAction{SurveyID: "csat-support", Transactional: true}}}, Controls: rule.Controls{Reentry: true}}
	e := newEnv(t, csat)
	res := ev("res-1", "ticket.resolved", time.Now())
	res.Payload = &journeyv1.JourneyEvent_TicketResolved{TicketResolved: &journeyv1.TicketResolved{TicketId: "1"}}
	e.publish(t, res)
	e.settled(t)
	csat.Name = "CSAT after a resolved ticket"
	if _, err := e.rules.Put(context.Background(), "demo", csat, 0, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the engine sees version 2", func() bool {
		r, err := e.rules.Rule(context.Background(), "demo", "csat-support", 0)
		return err == nil && r.Version == 2
	})
	data, _ := proto.Marshal(res) // the same event, late: past JetStream's deduplication
	if _, err := e.nats.JS.Publish(context.Background(), "cx.demo.journey.ticket.resolved", data); err != nil {
		t.Fatal(err)
	}
	e.settled(t)
	if n := len(invitations(t, e)); n != 1 {
		t.Fatalf("%d survey invitations, want 1", n)
	}
}

func TestALateOlderEventDoesNotMoveAWaitBack(t *testing.T) {
	t.Parallel()
	winback := rule.Rule{ID: "winback", Name: "Win-back after silence", Enabled: true, Kind: rule.Inactivity, Period: dur(3 * time.Second),
		Actions: []rule.Action{{Task: &rule.TaskAction{Reason: "quiet customer"}}}, Controls: rule.Controls{Reentry: true}}
	e := newEnv(t, winback)
	now := time.Now()
	cart := func(id string, at time.Time) *journeyv1.JourneyEvent {
		c := ev(id, "cart.updated", at)
		c.Payload = &journeyv1.JourneyEvent_CartUpdated{CartUpdated: &journeyv1.CartUpdated{CartId: "k"}}
		return c
	}
	// Active now; then an older activity (a retry of one from 2 s ago)
	// arrives: the wait must stay at now+3s, not move to now+1s.
	e.publish(t, cart("recent", now.Add(2*time.Second)), cart("older", now))
	e.settled(t)
	eventually(t, 10*time.Second, "the win-back task", func() bool {
		tasks, _, err := e.tasks.List(context.Background(), "demo", task.Filter{}, 10, "")
		return err == nil && len(tasks) == 1
	})
	tasks, _, _ := e.tasks.List(context.Background(), "demo", task.Filter{}, 10, "")
	if got := tasks[0].CauseEventID; got != "recent" {
		t.Fatalf("the task was caused by %q, want the latest activity \"recent\"", got)
	}
	if late := tasks[0].CreatedAt.Sub(now.Add(5 * time.Second)); late < -time.Second {
		t.Fatalf("win-back fired %v before the latest activity's quiet period ended", -late)
	}
}

// A survey answer is revised (a comment added after the score): each
// revision is a survey.responded of its own, and the follow-up rule acts on
// the answer once. Another answer is another follow-up.
func TestRevisionsOfOneAnswerFireOnce(t *testing.T) {
	t.Parallel()
	low := rule.Rule{ID: "csat-low", Name: "Low CSAT follow-up", Enabled: true, Kind: rule.OnEvent,
		Start: &rule.EventMatch{Type: "survey.responded", Conditions: []rule.Condition{
			{Path: "event.survey_responded.score", Op: rule.Lte, Values: []string{"2"}}}},
		Actions:  []rule.Action{{Task: &rule.TaskAction{Reason: "Low CSAT", Priority: "high", DueIn: dur(time.Hour)}}},
		Controls: rule.Controls{ExemptFromGlobalCap: true, Reentry: true}}
	e := newEnv(t, low)
	answer := func(id, inv string, score int32, comment string) *journeyv1.JourneyEvent {
		r := ev(id, "survey.responded", time.Now())
		r.Source = "survey"
		r.Payload = &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: "csat", InvitationId: inv,
			Kind: journeyv1.SurveyKind_SURVEY_KIND_CSAT, Score: score, Comment: comment}}
		return r
	}
	// A firing an earlier version recorded under the event's own id: a late
	// duplicate of that event must not act again under the answer's.
	state, err := adapters.NewKVState(context.Background(), e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Decide(context.Background(), "demo", "csat-low:inv-0:answer:1", app.Decision{Done: true}); err != nil {
		t.Fatal(err)
	}
	e.publish(t, answer("inv-0:answer:1", "inv-0", 1, ""))
	// One the earlier version decided and stopped half-way in: it finishes.
	if _, err := state.Decide(context.Background(), "demo", "csat-low:inv-9:answer:1", app.Decision{}); err != nil {
		t.Fatal(err)
	}
	e.publish(t, answer("inv-9:answer:1", "inv-9", 1, ""))
	e.publish(t, answer("inv-1:answer:1", "inv-1", 2, ""))
	e.publish(t, answer("inv-1:answer:2", "inv-1", 2, "the tin was dented"))
	e.publish(t, answer("inv-2:answer:1", "inv-2", 5, ""))
	e.publish(t, answer("inv-2:answer:2", "inv-2", 1, "changed my mind")) // first low revision: fires
	// Answers imported from another tool may carry any invitation_id (one
	// campaign's for everyone): each is its own moment.
	for i, who := range []string{"c-imp-1", "c-imp-2"} {
		imp := answer(fmt.Sprint("imported-", i), "campaign-7", 1, "")
		imp.Source, imp.Customer = "api", &journeyv1.Customer{CustomerId: who}
		e.publish(t, imp)
	}
	e.settled(t)
	tasks, _, err := e.tasks.List(context.Background(), "demo", task.Filter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, tk := range tasks {
		causes = append(causes, tk.CauseEventID)
	}
	slices.Sort(causes)
	if want := []string{"imported-0", "imported-1", "inv-1:answer:1", "inv-2:answer:2", "inv-9:answer:1"}; !slices.Equal(causes, want) {
		t.Fatalf("tasks caused by %v, want one per answer: %v", causes, want)
	}
}
