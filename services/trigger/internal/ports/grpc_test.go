package ports_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
)

// grpcEnv is the TriggerService, served as in production by
// grpcserver.New, over an in-memory connection, in front of a real
// in-process nats-server. Nothing consumes the journey: what the service
// publishes stays in JOURNEY for the test to read.
type grpcEnv struct {
	nats   *natstest.Server
	rules  *adapters.RuleStore
	tasks  *adapters.TaskKVStore
	timers *adapters.TimerScheduler
	pub    *journeystream.Publisher
	client triggerv1.TriggerServiceClient
}

func newGRPCEnv(t *testing.T, pack ...rule.Rule) *grpcEnv {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Trigger(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	e := &grpcEnv{nats: srv}
	var err error
	if e.rules, err = adapters.NewRuleStore(ctx, srv.JS, pack); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.rules.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	if err := e.rules.WaitReady(natstest.Context(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if e.tasks, err = adapters.NewTaskKVStore(ctx, srv.JS); err != nil {
		t.Fatal(err)
	}
	if e.timers, err = adapters.NewTimerScheduler(ctx, srv.JS); err != nil {
		t.Fatal(err)
	}
	if e.pub, err = journeystream.NewPublisher(srv.NC, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	history, err := adapters.NewJourneyHistory(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := app.NewRules(e.rules, e.timers, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := app.NewTasks(e.tasks, e.tasks, grpcTaskEvents{e.pub}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	backtest, err := app.NewBacktester(history, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	api, err := ports.NewGRPC(rules, tasks, backtest)
	if err != nil {
		t.Fatal(err)
	}
	gs, _ := grpcserver.New()
	triggerv1.RegisterTriggerServiceServer(gs, api)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e.client = triggerv1.NewTriggerServiceClient(conn)
	return e
}

// grpcTaskEvents announces completed tasks as the trigger service does: a
// task.completed journey event whose id is derived from the task's.
type grpcTaskEvents struct{ pub *journeystream.Publisher }

func (p grpcTaskEvents) TaskCompleted(ctx context.Context, t *task.Task) error {
	ev := &journeyv1.JourneyEvent{Id: "task:" + t.ID + ":completed", Tenant: t.Tenant, Type: "task.completed", Source: "trigger",
		Customer:   &journeyv1.Customer{CustomerId: t.Customer.CustomerID, Email: t.Customer.Email, Phone: t.Customer.Phone, AnonymousId: t.Customer.AnonymousID},
		OccurredAt: timestamppb.New(t.CompletedAt), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_TaskCompleted{TaskCompleted: &journeyv1.TaskCompleted{TaskId: t.ID, Assignee: t.Assignee, Outcome: t.Outcome}}}
	return p.pub.Publish(ctx, []*journeyv1.JourneyEvent{ev})[0].Err
}

func grpcCtx(t *testing.T) context.Context {
	t.Helper()
	return natstest.Context(t, 30*time.Second)
}

// grpcWantCode fails unless err has the code want, and returns its
// google.rpc.BadRequest fields, if any.
func grpcWantCode(t *testing.T, err error, want codes.Code) []string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("status = %v (%v), want %v", st.Code(), err, want)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

// grpcJourney reads every event of a tenant of one type from JOURNEY.
func grpcJourney(t *testing.T, e *grpcEnv, tenant, typ string) []*journeyv1.JourneyEvent {
	t.Helper()
	c, err := e.nats.JS.OrderedConsumer(context.Background(), topology.Journey, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"cx." + tenant + ".journey." + typ}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*journeyv1.JourneyEvent
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
			out = append(out, ev)
		}
		if n == 0 {
			return out
		}
	}
}

// grpcSatisfaction is "a survey 7 days after delivery, unless the order is
// refunded first" as a client writes it.
func grpcSatisfaction() *triggerv1.Rule {
	return &triggerv1.Rule{RuleId: "satisfaction", Name: "Satisfaction check after delivery", Enabled: true,
		When: &triggerv1.Rule_AfterDelay{AfterDelay: &triggerv1.DelayTrigger{
			Start: &triggerv1.EventMatch{Type: "order.delivered"}, Delay: durationpb.New(7 * 24 * time.Hour),
			Stop:      []*triggerv1.EventMatch{{Type: "order.refunded"}},
			Correlate: []*triggerv1.Correlation{{StartPath: "event.order_delivered.order_id", OtherPath: "event.order_refunded.order_id"}}}},
		Actions: []*triggerv1.Action{{Action: &triggerv1.Action_Survey{Survey: &triggerv1.SurveyAction{SurveyId: "csat-delivery", Touchpoint: "order:{event.order_delivered.order_id}"}}}},
	}
}

func TestGRPCRuleLifecycle(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	ctx := grpcCtx(t)

	created, err := e.client.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: "demo", Rule: grpcSatisfaction(), Actor: "maryam"})
	if err != nil {
		t.Fatal(err)
	}
	r := created.GetRule()
	if r.GetVersion() != 1 || !r.GetEnabled() || r.GetUpdatedBy() != "maryam" || r.GetUpdatedAt() == nil {
		t.Fatalf("created = %v, want version 1, enabled, by maryam, with a time", r)
	}
	if ch := r.GetActions()[0].GetSurvey().GetChannel(); ch != journeyv1.Channel_CHANNEL_UNSPECIFIED {
		t.Fatalf("channel = %v, want unspecified (the customer's preferred one)", ch)
	}
	got, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "demo", RuleId: "satisfaction"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetRule(), r) {
		t.Fatalf("get = %v\nwant what create returned: %v", got.GetRule(), r)
	}

	changed := grpcSatisfaction()
	changed.Name = "CSAT a week after delivery"
	changed.GetAfterDelay().Delay = durationpb.New(5 * 24 * time.Hour)
	changed.Enabled = false // ignored on update
	_, err = e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo", Rule: changed, ExpectedVersion: 7, Actor: "reza"})
	grpcWantCode(t, err, codes.Aborted)
	updated, err := e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo", Rule: changed, ExpectedVersion: 1, Actor: "reza"})
	if err != nil {
		t.Fatal(err)
	}
	u := updated.GetRule()
	if u.GetVersion() != 2 || !u.GetEnabled() || u.GetName() != "CSAT a week after delivery" || u.GetAfterDelay().GetDelay().AsDuration() != 5*24*time.Hour || u.GetUpdatedBy() != "reza" {
		t.Fatalf("updated = %v, want version 2, still enabled, renamed, 5 days, by reza", u)
	}
	// The version it was made from is no longer the current one.
	_, err = e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo", Rule: changed, ExpectedVersion: 1})
	grpcWantCode(t, err, codes.Aborted)

	versions, err := e.client.ListRuleVersions(ctx, &triggerv1.ListRuleVersionsRequest{Tenant: "demo", RuleId: "satisfaction"})
	if err != nil {
		t.Fatal(err)
	}
	if vs := versions.GetRules(); len(vs) != 2 || vs[0].GetVersion() != 2 || vs[1].GetVersion() != 1 || vs[1].GetName() != "Satisfaction check after delivery" {
		t.Fatalf("versions = %v, want 2 then 1", vs)
	}
	v1, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "demo", RuleId: "satisfaction", Version: 1})
	if err != nil || v1.GetRule().GetAfterDelay().GetDelay().AsDuration() != 7*24*time.Hour {
		t.Fatalf("version 1 = %v, %v; want the 7-day original", v1.GetRule(), err)
	}

	// Two customers wait for their survey; another rule's wait is not this
	// rule's to cancel.
	for _, key := range []string{"satisfaction.c1.k1", "satisfaction.c2.k2", "satisfaction-v2.c1.k1"} {
		if err := e.timers.Schedule(ctx, app.Timer{Key: key, Tenant: "demo", RuleID: "satisfaction", Version: 2, At: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	disabled, err := e.client.DisableRule(ctx, &triggerv1.DisableRuleRequest{Tenant: "demo", RuleId: "satisfaction", Actor: "maryam"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.timers.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("pending timers after disabling = %d, %v; want only the other rule's", n, err)
	}
	if d := disabled.GetRule(); d.GetVersion() != 3 || d.GetEnabled() || d.GetUpdatedBy() != "maryam" || d.GetName() != u.GetName() {
		t.Fatalf("disabled = %v, want version 3 of the same rule, disabled, by maryam", d)
	}
	again, err := e.client.DisableRule(ctx, &triggerv1.DisableRuleRequest{Tenant: "demo", RuleId: "satisfaction", Actor: "someone"})
	if err != nil || again.GetRule().GetVersion() != 3 || again.GetRule().GetUpdatedBy() != "maryam" {
		t.Fatalf("disabling again = %v, %v; want version 3 unchanged", again.GetRule(), err)
	}
	list, err := e.client.ListRules(ctx, &triggerv1.ListRulesRequest{Tenant: "demo", EnabledOnly: true})
	if err != nil || len(list.GetRules()) != 0 {
		t.Fatalf("enabled rules = %v, %v; want none", list.GetRules(), err)
	}
	enabled, err := e.client.EnableRule(ctx, &triggerv1.EnableRuleRequest{Tenant: "demo", RuleId: "satisfaction", Actor: "reza"})
	if err != nil || enabled.GetRule().GetVersion() != 4 || !enabled.GetRule().GetEnabled() {
		t.Fatalf("enabled = %v, %v; want version 4, enabled", enabled.GetRule(), err)
	}
	again2, err := e.client.EnableRule(ctx, &triggerv1.EnableRuleRequest{Tenant: "demo", RuleId: "satisfaction"})
	if err != nil || again2.GetRule().GetVersion() != 4 {
		t.Fatalf("enabling again = %v, %v; want version 4 unchanged", again2.GetRule(), err)
	}
	versions, err = e.client.ListRuleVersions(ctx, &triggerv1.ListRuleVersionsRequest{Tenant: "demo", RuleId: "satisfaction", PageSize: 3})
	if err != nil || len(versions.GetRules()) != 3 || versions.GetNextPageToken() == "" {
		t.Fatalf("first page of versions = %v, %v; want 3 and a next page", versions.GetRules(), err)
	}
	last, err := e.client.ListRuleVersions(ctx, &triggerv1.ListRuleVersionsRequest{Tenant: "demo", RuleId: "satisfaction", PageSize: 3, PageToken: versions.GetNextPageToken()})
	if err != nil || len(last.GetRules()) != 1 || last.GetRules()[0].GetVersion() != 1 || last.GetNextPageToken() != "" {
		t.Fatalf("last page of versions = %v, %v; want version 1 alone", last.GetRules(), err)
	}
	// Another tenant sees none of it.
	_, err = e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "other", RuleId: "satisfaction"})
	grpcWantCode(t, err, codes.NotFound)
}

func TestGRPCInvalidRulesAreRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	notify := func(a *triggerv1.NotifyAction) []*triggerv1.Action {
		return []*triggerv1.Action{{Action: &triggerv1.Action_Notify{Notify: a}}}
	}
	for _, tc := range []struct {
		name   string
		tenant string
		edit   func(r *triggerv1.Rule)
		field  string
	}{
		{"no actions", "demo", func(r *triggerv1.Rule) { r.Actions = nil }, "rule.actions"},
		{"notification without a template", "demo", func(r *triggerv1.Rule) { r.Actions = notify(&triggerv1.NotifyAction{}) }, "rule.actions[0].notify.template_id"},
		{"nothing that fires it", "demo", func(r *triggerv1.Rule) { r.When = nil }, "rule.when"},
		{"delay missing", "demo", func(r *triggerv1.Rule) { r.GetAfterDelay().Delay = nil }, "rule.after_delay.delay"},
		{"negative delay", "demo", func(r *triggerv1.Rule) { r.GetAfterDelay().Delay = durationpb.New(-time.Hour) }, "rule.after_delay.delay"},
		{"start event type malformed", "demo", func(r *triggerv1.Rule) { r.GetAfterDelay().Start.Type = "Delivered" }, "rule.after_delay.start.type"},
		{"correlation reading another event", "demo", func(r *triggerv1.Rule) {
			r.GetAfterDelay().Correlate[0].StartPath = "event.order_placed.order_id"
		}, "rule.after_delay.correlate[0].start_path"},
		{"condition without an operator", "demo", func(r *triggerv1.Rule) {
			r.Conditions = []*triggerv1.Condition{{Path: "event.order_delivered.order_id", Values: []string{"1"}}}
		}, "rule.conditions[0].operator"},
		{"cap without a window", "demo", func(r *triggerv1.Rule) {
			r.Controls = &triggerv1.Controls{CapPerCustomer: 1, Reentry: true}
		}, "rule.controls.cap_window"},
		{"id with capitals", "demo", func(r *triggerv1.Rule) { r.RuleId = "Satisfaction" }, "rule.rule_id"},
		{"no tenant", "", func(*triggerv1.Rule) {}, "tenant"},
		{"tenant reaching into others", "demo.*", func(*triggerv1.Rule) {}, "tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := grpcSatisfaction()
			tc.edit(r)
			_, err := e.client.CreateRule(grpcCtx(t), &triggerv1.CreateRuleRequest{Tenant: tc.tenant, Rule: r})
			fields := grpcWantCode(t, err, codes.InvalidArgument)
			found := false
			for _, f := range fields {
				found = found || f == tc.field
			}
			if !found {
				t.Fatalf("fields at fault = %v (%v), want %s among them", fields, err, tc.field)
			}
		})
	}
	t.Run("nothing was stored", func(t *testing.T) {
		list, err := e.client.ListRules(grpcCtx(t), &triggerv1.ListRulesRequest{Tenant: "demo"})
		if err != nil || len(list.GetRules()) != 0 {
			t.Fatalf("rules = %v, %v; want none", list.GetRules(), err)
		}
	})
}

func TestGRPCRuleErrorCodes(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	ctx := grpcCtx(t)
	if _, err := e.client.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: "demo", Rule: grpcSatisfaction()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"creating an id in use", func() error {
			_, err := e.client.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: "demo", Rule: grpcSatisfaction()})
			return err
		}, codes.AlreadyExists, ""},
		{"getting an unknown rule", func() error {
			_, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "demo", RuleId: "nope"})
			return err
		}, codes.NotFound, ""},
		{"getting a version never stored", func() error {
			_, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "demo", RuleId: "satisfaction", Version: 9})
			return err
		}, codes.NotFound, ""},
		{"updating an unknown rule", func() error {
			r := grpcSatisfaction()
			r.RuleId = "nope"
			_, err := e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo", Rule: r})
			return err
		}, codes.NotFound, ""},
		{"enabling an unknown rule", func() error {
			_, err := e.client.EnableRule(ctx, &triggerv1.EnableRuleRequest{Tenant: "demo", RuleId: "nope"})
			return err
		}, codes.NotFound, ""},
		{"getting without a rule id", func() error {
			_, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: "demo"})
			return err
		}, codes.InvalidArgument, "rule_id"},
		{"listing without a tenant", func() error {
			_, err := e.client.ListRules(ctx, &triggerv1.ListRulesRequest{})
			return err
		}, codes.InvalidArgument, "tenant"},
		{"listing with a made-up page token", func() error {
			_, err := e.client.ListRules(ctx, &triggerv1.ListRulesRequest{Tenant: "demo", PageToken: "bm9wZQ"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"updating without a rule", func() error {
			_, err := e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo"})
			return err
		}, codes.InvalidArgument, "rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := grpcWantCode(t, tc.call(), tc.code)
			if tc.field != "" && (len(fields) != 1 || fields[0] != tc.field) {
				t.Fatalf("fields at fault = %v, want [%s]", fields, tc.field)
			}
		})
	}
}

func TestGRPCListRulesPagesByID(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	ctx := grpcCtx(t)
	for _, id := range []string{"e-rule", "b-rule", "d-rule", "a-rule", "c-rule"} {
		r := grpcSatisfaction()
		r.RuleId, r.Enabled = id, id != "c-rule"
		if _, err := e.client.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: "demo", Rule: r}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		enabledOnly bool
		want        []string
	}{
		{"all", false, []string{"a-rule", "b-rule", "c-rule", "d-rule", "e-rule"}},
		{"enabled only", true, []string{"a-rule", "b-rule", "d-rule", "e-rule"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			token, pages := "", 0
			for {
				page, err := e.client.ListRules(ctx, &triggerv1.ListRulesRequest{Tenant: "demo", EnabledOnly: tc.enabledOnly, PageSize: 2, PageToken: token})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, r := range page.GetRules() {
					got = append(got, r.GetRuleId())
				}
				if token = page.GetNextPageToken(); token == "" {
					break
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || pages != (len(tc.want)+1)/2 {
				t.Fatalf("rules = %v in %d pages, want %v in pages of 2", got, pages, tc.want)
			}
		})
	}
}

func TestGRPCPackRuleIsDisabledForOneTenantOnly(t *testing.T) {
	t.Parallel()
	pack := rule.Rule{ID: "winback", Name: "Win-back after 90 days", Enabled: true, Kind: rule.Inactivity, Period: rule.Duration(90 * rule.Day),
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "winback", Channel: "auto"}}}}
	e := newGRPCEnv(t, pack)
	ctx := grpcCtx(t)

	disabled, err := e.client.DisableRule(ctx, &triggerv1.DisableRuleRequest{Tenant: "demo", RuleId: "winback", Actor: "maryam"})
	if err != nil {
		t.Fatal(err)
	}
	if d := disabled.GetRule(); d.GetEnabled() || d.GetVersion() <= int32(pack.Version) || d.GetUpdatedBy() != "maryam" || d.GetInactivity().GetPeriod().AsDuration() != 90*rule.Day {
		t.Fatalf("disabled = %v, want the tenant's own disabled version of the pack rule", d)
	}
	for tenant, want := range map[string]bool{"demo": false, "other": true} {
		got, err := e.client.GetRule(ctx, &triggerv1.GetRuleRequest{Tenant: tenant, RuleId: "winback"})
		if err != nil || got.GetRule().GetEnabled() != want {
			t.Fatalf("%s's winback = %v, %v; want enabled %v", tenant, got.GetRule(), err, want)
		}
	}
	// The tenant's change to the pack rule is a version like any other.
	r := ruleProtoOf(t, e, "demo", "winback")
	r.Name = "Win-back, our words"
	updated, err := e.client.UpdateRule(ctx, &triggerv1.UpdateRuleRequest{Tenant: "demo", Rule: r, ExpectedVersion: disabled.GetRule().GetVersion()})
	if err != nil || updated.GetRule().GetVersion() != disabled.GetRule().GetVersion()+1 || updated.GetRule().GetEnabled() {
		t.Fatalf("updated = %v, %v; want the next version, still disabled", updated.GetRule(), err)
	}
}

func ruleProtoOf(t *testing.T, e *grpcEnv, tenant, id string) *triggerv1.Rule {
	t.Helper()
	got, err := e.client.GetRule(grpcCtx(t), &triggerv1.GetRuleRequest{Tenant: tenant, RuleId: id})
	if err != nil {
		t.Fatal(err)
	}
	return got.GetRule()
}

// grpcTask stores a task as a rule firing would.
func grpcTask(t *testing.T, e *grpcEnv, cause string, p task.Priority, dueIn time.Duration) *task.Task {
	t.Helper()
	tk, err := task.New(task.Spec{Tenant: "demo", Customer: task.Customer{CustomerID: "c-" + cause}, Reason: "call back about " + cause,
		RuleID: "detractor", RuleVersion: 1, CauseEventID: cause, Priority: p, DueIn: dueIn}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tasks.Create(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestGRPCTasksAreListedClaimedAndCompletedOnce(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	ctx := grpcCtx(t)
	low := grpcTask(t, e, "nps-1", task.Low, time.Hour)
	urgent := grpcTask(t, e, "nps-2", task.Urgent, 4*time.Hour)

	list := func(req *triggerv1.ListTasksRequest) []string {
		t.Helper()
		req.Tenant = "demo"
		resp, err := e.client.ListTasks(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range resp.GetTasks() {
			ids = append(ids, tk.GetTaskId())
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		req  *triggerv1.ListTasksRequest
		want []string
	}{
		{"open, most urgent first", &triggerv1.ListTasksRequest{State: triggerv1.TaskState_TASK_STATE_OPEN}, []string{urgent.ID, low.ID}},
		{"low priority", &triggerv1.ListTasksRequest{Priority: triggerv1.TaskPriority_TASK_PRIORITY_LOW}, []string{low.ID}},
		{"claimed", &triggerv1.ListTasksRequest{State: triggerv1.TaskState_TASK_STATE_CLAIMED}, nil},
	} {
		if got := list(tc.req); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: tasks = %v, want %v", tc.name, got, tc.want)
		}
	}

	claimed, err := e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-a"})
	if err != nil {
		t.Fatal(err)
	}
	c := claimed.GetTask()
	if c.GetState() != triggerv1.TaskState_TASK_STATE_CLAIMED || c.GetAssignee() != "agent-a" || c.GetClaimedAt() == nil ||
		c.GetPriority() != triggerv1.TaskPriority_TASK_PRIORITY_URGENT || c.GetCustomer().GetCustomerId() != "c-nps-2" || c.GetReason() != "call back about nps-2" {
		t.Fatalf("claimed = %v, want urgent nps-2 claimed by agent-a", c)
	}
	again, err := e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-a"})
	if err != nil || !again.GetTask().GetClaimedAt().AsTime().Equal(c.GetClaimedAt().AsTime()) {
		t.Fatalf("claiming again = %v, %v; want the same claim", again.GetTask(), err)
	}
	_, err = e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-b"})
	grpcWantCode(t, err, codes.FailedPrecondition)
	_, err = e.client.CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-b", Outcome: "not mine"})
	grpcWantCode(t, err, codes.FailedPrecondition)
	if got := list(&triggerv1.ListTasksRequest{Assignee: "agent-a"}); len(got) != 1 || got[0] != urgent.ID {
		t.Fatalf("agent-a's tasks = %v, want [%s]", got, urgent.ID)
	}

	done, err := e.client.CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-a", Outcome: "called, refund agreed"})
	if err != nil {
		t.Fatal(err)
	}
	d := done.GetTask()
	if d.GetState() != triggerv1.TaskState_TASK_STATE_DONE || d.GetOutcome() != "called, refund agreed" || d.GetCompletedAt() == nil {
		t.Fatalf("completed = %v, want done with the outcome", d)
	}
	twice, err := e.client.CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-a", Outcome: "again"})
	if err != nil || !proto.Equal(twice.GetTask(), d) {
		t.Fatalf("completing again = %v, %v; want the done task unchanged", twice.GetTask(), err)
	}
	_, err = e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: urgent.ID, Assignee: "agent-a"})
	grpcWantCode(t, err, codes.FailedPrecondition)
	evs := grpcJourney(t, e, "demo", "task.completed")
	if len(evs) != 1 || evs[0].GetTaskCompleted().GetTaskId() != urgent.ID || evs[0].GetTaskCompleted().GetOutcome() != "called, refund agreed" ||
		evs[0].GetCustomer().GetCustomerId() != "c-nps-2" {
		t.Fatalf("task.completed events = %v, want one for %s", evs, urgent.ID)
	}

	// An open task is completed by whoever takes it.
	lowDone, err := e.client.CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: "demo", TaskId: low.ID, Assignee: "agent-b"})
	if err != nil || lowDone.GetTask().GetAssignee() != "agent-b" {
		t.Fatalf("completing the open task = %v, %v", lowDone.GetTask(), err)
	}
	if got := list(&triggerv1.ListTasksRequest{State: triggerv1.TaskState_TASK_STATE_DONE}); len(got) != 2 {
		t.Fatalf("done tasks = %v, want both", got)
	}
	for _, tc := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"unknown task", func() error {
			_, err := e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: "nope", Assignee: "agent-a"})
			return err
		}, codes.NotFound, ""},
		{"another tenant's task", func() error {
			_, err := e.client.CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: "other", TaskId: low.ID, Assignee: "agent-a"})
			return err
		}, codes.NotFound, ""},
		{"claim without an agent", func() error {
			_, err := e.client.ClaimTask(ctx, &triggerv1.ClaimTaskRequest{Tenant: "demo", TaskId: low.ID})
			return err
		}, codes.InvalidArgument, "assignee"},
		{"list without a tenant", func() error {
			_, err := e.client.ListTasks(ctx, &triggerv1.ListTasksRequest{})
			return err
		}, codes.InvalidArgument, "tenant"},
		{"list with a made-up token", func() error {
			_, err := e.client.ListTasks(ctx, &triggerv1.ListTasksRequest{Tenant: "demo", PageToken: "!!"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"list by an unknown state", func() error {
			_, err := e.client.ListTasks(ctx, &triggerv1.ListTasksRequest{Tenant: "demo", State: 42})
			return err
		}, codes.InvalidArgument, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := grpcWantCode(t, tc.call(), tc.code)
			if tc.field != "" && (len(fields) != 1 || fields[0] != tc.field) {
				t.Fatalf("fields at fault = %v, want [%s]", fields, tc.field)
			}
		})
	}
	if evs := grpcJourney(t, e, "demo", "task.completed"); len(evs) != 2 {
		t.Fatalf("%d task.completed events, want 2 (one per task)", len(evs))
	}
}

// grpcOrderEvent is an order event of a customer of tenant shop.
func grpcOrderEvent(id, customer, typ, order string, at time.Time) *journeyv1.JourneyEvent {
	ev := &journeyv1.JourneyEvent{Id: id, Tenant: "shop", Type: typ, Customer: &journeyv1.Customer{CustomerId: customer},
		OccurredAt: timestamppb.New(at), ReceivedAt: timestamppb.Now(), Source: "import"}
	switch typ {
	case "order.delivered":
		ev.Payload = &journeyv1.JourneyEvent_OrderDelivered{OrderDelivered: &journeyv1.OrderDelivered{OrderId: order}}
	case "order.refunded":
		ev.Payload = &journeyv1.JourneyEvent_OrderRefunded{OrderRefunded: &journeyv1.OrderRefunded{OrderId: order, Amount: &journeyv1.Money{Currency: "IRT", Amount: "1"}}}
	}
	return ev
}

func TestGRPCBacktestReplaysHistoryWithoutActing(t *testing.T) {
	t.Parallel()
	e := newGRPCEnv(t)
	ctx := grpcCtx(t)
	day := 24 * time.Hour
	base := time.Now().UTC().Add(-60 * day).Truncate(time.Second)
	history := []*journeyv1.JourneyEvent{
		grpcOrderEvent("d-ali", "c-ali", "order.delivered", "1", base),
		grpcOrderEvent("d-bita", "c-bita", "order.delivered", "2", base.Add(3*day)),
		grpcOrderEvent("r-bita", "c-bita", "order.refunded", "2", base.Add(5*day)),
		grpcOrderEvent("d-cyrus", "c-cyrus", "order.delivered", "3", base.Add(6*day)),
		// A repeat customer, and another shop's event, which no backtest of shop reads.
		grpcOrderEvent("d-ali-2", "c-ali", "order.delivered", "4", base.Add(20*day)),
		func() *journeyv1.JourneyEvent {
			o := grpcOrderEvent("d-other", "c-x", "order.delivered", "9", base)
			o.Tenant = "elsewhere"
			return o
		}(),
	}
	for i, a := range e.pub.Publish(ctx, history) {
		if a.Err != nil {
			t.Fatalf("publish %s: %v", history[i].GetId(), a.Err)
		}
	}
	stored := grpcSatisfaction()
	stored.Enabled = false // a backtest is how one decides to enable it
	if _, err := e.client.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: "shop", Rule: stored}); err != nil {
		t.Fatal(err)
	}
	onDelivery := func(edit func(r *triggerv1.Rule)) *triggerv1.Rule {
		r := &triggerv1.Rule{When: &triggerv1.Rule_OnEvent{OnEvent: &triggerv1.EventTrigger{Event: &triggerv1.EventMatch{Type: "order.delivered"}}}, Actions: stored.GetActions()}
		edit(r)
		return r
	}
	type firing struct {
		customer string
		at       time.Time
		cause    string
		reason   string
	}
	window := func(req *triggerv1.BacktestRuleRequest, from time.Time, to ...time.Time) *triggerv1.BacktestRuleRequest {
		req.StartTime = timestamppb.New(from)
		if len(to) > 0 {
			req.EndTime = timestamppb.New(to[0])
		}
		return req
	}
	storedRule := func() *triggerv1.BacktestRuleRequest {
		return &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_RuleId{RuleId: "satisfaction"}}
	}
	draft := func(r *triggerv1.Rule) *triggerv1.BacktestRuleRequest {
		return &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_Draft{Draft: r}}
	}
	cases := []struct {
		name                                   string
		req                                    *triggerv1.BacktestRuleRequest
		events, customers, firings, suppressed int64
		needsProfile                           string
		sample                                 []firing
	}{
		{
			name: "stored delay rule: a week after delivery unless refunded",
			req:  window(storedRule(), base.Add(-day), base.Add(19*day)),
			// Ali's second delivery is after the end of the window.
			events: 4, customers: 2, firings: 2, needsProfile: "0",
			sample: []firing{{"c-ali", base.Add(7 * day), "d-ali", ""}, {"c-cyrus", base.Add(13 * day), "d-cyrus", ""}},
		},
		{
			name:   "a wait not over by the end does not count",
			req:    window(storedRule(), base.Add(-day), base.Add(8*day)),
			events: 4, customers: 1, firings: 1, needsProfile: "0",
			sample: []firing{{"c-ali", base.Add(7 * day), "d-ali", ""}},
		},
		{
			name:   "draft event rule, once per customer",
			req:    window(draft(onDelivery(func(*triggerv1.Rule) {})), base.Add(-day)),
			events: 5, customers: 3, firings: 3, suppressed: 1, needsProfile: "0",
			sample: []firing{{"c-ali", base, "d-ali", ""}, {"c-bita", base.Add(3 * day), "d-bita", ""}, {"c-cyrus", base.Add(6 * day), "d-cyrus", ""},
				{"c-ali", base.Add(20 * day), "d-ali-2", "reentry"}},
		},
		{
			name: "draft with a cap of one in 30 days, sample of one",
			req: func() *triggerv1.BacktestRuleRequest {
				req := window(draft(onDelivery(func(r *triggerv1.Rule) {
					r.Controls = &triggerv1.Controls{Reentry: true, CapPerCustomer: 1, CapWindow: durationpb.New(30 * day)}
				})), base.Add(-day))
				req.MaxFirings = 1
				return req
			}(),
			events: 5, customers: 3, firings: 3, suppressed: 1, needsProfile: "0",
			sample: []firing{{"c-ali", base, "d-ali", ""}},
		},
		{
			// Ten days of silence, at that moment: Ali after each delivery,
			// Cyrus; Bita's path ends with her refund.
			name: "draft inactivity rule with an exit",
			req: window(draft(&triggerv1.Rule{
				When:     &triggerv1.Rule_Inactivity{Inactivity: &triggerv1.InactivityTrigger{Period: durationpb.New(10 * day)}},
				Actions:  stored.GetActions(),
				Controls: &triggerv1.Controls{Reentry: true, Exit: []*triggerv1.EventMatch{{Type: "order.refunded"}}},
			}), base.Add(-day)),
			events: 5, customers: 2, firings: 3, needsProfile: "0",
			sample: []firing{{"c-ali", base.Add(10 * day), "d-ali", ""}, {"c-cyrus", base.Add(16 * day), "d-cyrus", ""}, {"c-ali", base.Add(30 * day), "d-ali-2", ""}},
		},
		{
			name: "draft with a condition on the profile",
			req: window(draft(onDelivery(func(r *triggerv1.Rule) {
				r.Conditions = []*triggerv1.Condition{{Path: "profile.commerce.order_count", Operator: triggerv1.Operator_OPERATOR_GT, Values: []string{"1"}}}
			})), base.Add(-day)),
			// The past profile is not kept: the four deliveries are counted
			// as needing it, not as firings.
			events: 5, needsProfile: "4",
		},
	}
	t.Run("replays", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.req.Tenant = "shop"
				var header metadata.MD
				resp, err := e.client.BacktestRule(grpcCtx(t), tc.req, grpc.Header(&header))
				if err != nil {
					t.Fatal(err)
				}
				if resp.GetCustomers() != tc.customers || resp.GetFirings() != tc.firings || resp.GetSuppressed() != tc.suppressed || resp.GetEventsReplayed() != tc.events {
					t.Fatalf("customers %d, firings %d, suppressed %d, events %d; want %d, %d, %d, %d",
						resp.GetCustomers(), resp.GetFirings(), resp.GetSuppressed(), resp.GetEventsReplayed(), tc.customers, tc.firings, tc.suppressed, tc.events)
				}
				if got := header.Get(ports.NeedsProfileHeader); len(got) != 1 || got[0] != tc.needsProfile {
					t.Fatalf("%s = %v, want %s", ports.NeedsProfileHeader, got, tc.needsProfile)
				}
				var got []firing
				for _, f := range resp.GetSample() {
					if f.GetSuppressed() != (f.GetSuppressionReason() != "") {
						t.Fatalf("firing %v: suppressed and its reason disagree", f)
					}
					got = append(got, firing{f.GetCustomer().GetCustomerId(), f.GetFiredAt().AsTime(), f.GetCauseEventId(), f.GetSuppressionReason()})
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.sample) {
					t.Fatalf("sample = %v\nwant %v", got, tc.sample)
				}
			})
		}
	})
	t.Run("nothing acted", func(t *testing.T) {
		s, err := e.nats.JS.Stream(grpcCtx(t), topology.SurveyInvitations)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(grpcCtx(t))
		if err != nil || info.State.Msgs != 0 {
			t.Fatalf("survey invitations = %v, %v; want none", info.State.Msgs, err)
		}
		if f := grpcJourney(t, e, "shop", "trigger.fired"); len(f) != 0 {
			t.Fatalf("trigger.fired = %v; want none", f)
		}
	})
	for _, tc := range []struct {
		name  string
		req   *triggerv1.BacktestRuleRequest
		code  codes.Code
		field string
	}{
		{"unknown rule", &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_RuleId{RuleId: "nope"}, StartTime: timestamppb.New(base)}, codes.NotFound, ""},
		{"no rule", &triggerv1.BacktestRuleRequest{StartTime: timestamppb.New(base)}, codes.InvalidArgument, "rule_id"},
		{"invalid draft", &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_Draft{Draft: onDelivery(func(r *triggerv1.Rule) { r.Actions = nil })},
			StartTime: timestamppb.New(base)}, codes.InvalidArgument, "draft.actions"},
		{"no start", &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_RuleId{RuleId: "satisfaction"}}, codes.InvalidArgument, "start_time"},
		{"end before start", &triggerv1.BacktestRuleRequest{Subject: &triggerv1.BacktestRuleRequest_RuleId{RuleId: "satisfaction"},
			StartTime: timestamppb.New(base), EndTime: timestamppb.New(base.Add(-day))}, codes.InvalidArgument, "end_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.req.Tenant = "shop"
			_, err := e.client.BacktestRule(grpcCtx(t), tc.req)
			fields := grpcWantCode(t, err, tc.code)
			if tc.field != "" && (len(fields) != 1 || fields[0] != tc.field) {
				t.Fatalf("fields at fault = %v, want [%s]", fields, tc.field)
			}
		})
	}
}
