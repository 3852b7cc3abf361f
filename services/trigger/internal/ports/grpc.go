package ports

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// NeedsProfileHeader is the response header of BacktestRule counting the
// firings whose conditions on the profile could not be evaluated against
// the past (app.BacktestReport.NeedsProfile); the response message has no
// field for it.
const NeedsProfileHeader = "bazgasht-backtest-needs-profile"

// GRPC serves cx.trigger.v1.TriggerService.
type GRPC struct {
	triggerv1.UnimplementedTriggerServiceServer
	rules    *app.Rules
	tasks    *app.Tasks
	backtest *app.Backtester
}

// NewGRPC checks its dependencies.
func NewGRPC(rules *app.Rules, tasks *app.Tasks, backtest *app.Backtester) (*GRPC, error) {
	if rules == nil || tasks == nil || backtest == nil {
		return nil, errors.New("ports: rules, tasks and backtester are required")
	}
	return &GRPC{rules: rules, tasks: tasks, backtest: backtest}, nil
}

// CreateRule stores a new rule as version 1.
func (g *GRPC) CreateRule(ctx context.Context, req *triggerv1.CreateRuleRequest) (*triggerv1.CreateRuleResponse, error) {
	r, err := ruleFromProto(req.GetRule(), "rule")
	if err != nil {
		return nil, err
	}
	stored, err := g.rules.Create(ctx, req.GetTenant(), r, req.GetActor())
	if err != nil {
		return nil, statusOf(err, ruleFields{"rule", r.Kind})
	}
	return &triggerv1.CreateRuleResponse{Rule: ruleToProto(stored)}, nil
}

// UpdateRule stores the next version of a rule.
func (g *GRPC) UpdateRule(ctx context.Context, req *triggerv1.UpdateRuleRequest) (*triggerv1.UpdateRuleResponse, error) {
	r, err := ruleFromProto(req.GetRule(), "rule")
	if err != nil {
		return nil, err
	}
	stored, err := g.rules.Update(ctx, req.GetTenant(), r, int(req.GetExpectedVersion()), req.GetActor())
	if err != nil {
		return nil, statusOf(err, ruleFields{"rule", r.Kind})
	}
	return &triggerv1.UpdateRuleResponse{Rule: ruleToProto(stored)}, nil
}

// GetRule returns a rule at its current or a given version.
func (g *GRPC) GetRule(ctx context.Context, req *triggerv1.GetRuleRequest) (*triggerv1.GetRuleResponse, error) {
	r, err := g.rules.Get(ctx, req.GetTenant(), req.GetRuleId(), int(req.GetVersion()))
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	return &triggerv1.GetRuleResponse{Rule: ruleToProto(r)}, nil
}

// ListRules returns a page of the tenant's rules at their current version.
func (g *GRPC) ListRules(ctx context.Context, req *triggerv1.ListRulesRequest) (*triggerv1.ListRulesResponse, error) {
	rs, next, err := g.rules.List(ctx, req.GetTenant(), req.GetEnabledOnly(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	resp := &triggerv1.ListRulesResponse{NextPageToken: next}
	for _, r := range rs {
		resp.Rules = append(resp.Rules, ruleToProto(r))
	}
	return resp, nil
}

// ListRuleVersions returns a page of a rule's versions, newest first.
func (g *GRPC) ListRuleVersions(ctx context.Context, req *triggerv1.ListRuleVersionsRequest) (*triggerv1.ListRuleVersionsResponse, error) {
	rs, next, err := g.rules.ListVersions(ctx, req.GetTenant(), req.GetRuleId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	resp := &triggerv1.ListRuleVersionsResponse{NextPageToken: next}
	for _, r := range rs {
		resp.Rules = append(resp.Rules, ruleToProto(r))
	}
	return resp, nil
}

// EnableRule enables a rule; an enabled one is returned unchanged.
func (g *GRPC) EnableRule(ctx context.Context, req *triggerv1.EnableRuleRequest) (*triggerv1.EnableRuleResponse, error) {
	r, err := g.rules.Enable(ctx, req.GetTenant(), req.GetRuleId(), req.GetActor())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	return &triggerv1.EnableRuleResponse{Rule: ruleToProto(r)}, nil
}

// DisableRule disables a rule and cancels its timers; a disabled one is
// returned unchanged.
func (g *GRPC) DisableRule(ctx context.Context, req *triggerv1.DisableRuleRequest) (*triggerv1.DisableRuleResponse, error) {
	r, err := g.rules.Disable(ctx, req.GetTenant(), req.GetRuleId(), req.GetActor())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	return &triggerv1.DisableRuleResponse{Rule: ruleToProto(r)}, nil
}

// BacktestRule replays the tenant's journey history through a stored rule
// or a draft without acting. Firings that hinge on conditions on the
// profile, which the past cannot tell, are counted in the
// NeedsProfileHeader response header rather than in the response.
func (g *GRPC) BacktestRule(ctx context.Context, req *triggerv1.BacktestRuleRequest) (*triggerv1.BacktestRuleResponse, error) {
	var (
		r      rule.Rule
		fields = ruleFields{prefix: "draft"}
		err    error
	)
	switch s := req.GetSubject().(type) {
	case *triggerv1.BacktestRuleRequest_RuleId:
		if r, err = g.rules.Get(ctx, req.GetTenant(), s.RuleId, int(req.GetVersion())); err != nil {
			return nil, statusOf(err, ruleFields{})
		}
	case *triggerv1.BacktestRuleRequest_Draft:
		if r, err = ruleFromProto(s.Draft, "draft"); err != nil {
			return nil, err
		}
		fields.kind = r.Kind
	default:
		return nil, invalid(violation("rule_id", "a stored rule_id or a draft is required"))
	}
	start, err := timeOf(req.GetStartTime(), "start_time")
	if err != nil {
		return nil, err
	}
	end, err := timeOf(req.GetEndTime(), "end_time")
	if err != nil {
		return nil, err
	}
	rep, err := g.backtest.Backtest(ctx, req.GetTenant(), r, start, end, int(req.GetMaxFirings()))
	if err != nil {
		return nil, statusOf(err, fields)
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(NeedsProfileHeader, strconv.FormatInt(rep.NeedsProfile, 10)))
	resp := &triggerv1.BacktestRuleResponse{Customers: rep.Customers, Firings: rep.Firings, Suppressed: rep.Suppressed, EventsReplayed: rep.EventsReplayed}
	for _, f := range rep.Sample {
		resp.Sample = append(resp.Sample, &triggerv1.BacktestFiring{Customer: customerToProto(f.Customer), FiredAt: ts(f.At),
			CauseEventId: f.CauseEventID, Suppressed: f.Suppressed, SuppressionReason: f.Reason})
	}
	return resp, nil
}

// ListTasks returns a page of tasks, most urgent first, then earliest due.
func (g *GRPC) ListTasks(ctx context.Context, req *triggerv1.ListTasksRequest) (*triggerv1.ListTasksResponse, error) {
	f := task.Filter{Assignee: req.GetAssignee()}
	var ok bool
	if f.State, ok = taskStates[req.GetState()]; !ok {
		return nil, invalid(violation("state", fmt.Sprintf("%d is not a task state", req.GetState())))
	}
	if f.Priority, ok = taskPriorities[req.GetPriority()]; !ok {
		return nil, invalid(violation("priority", fmt.Sprintf("%d is not a task priority", req.GetPriority())))
	}
	tasks, next, err := g.tasks.List(ctx, req.GetTenant(), f, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	resp := &triggerv1.ListTasksResponse{NextPageToken: next}
	for i := range tasks {
		resp.Tasks = append(resp.Tasks, taskToProto(&tasks[i]))
	}
	return resp, nil
}

// ClaimTask gives an open task to an agent.
func (g *GRPC) ClaimTask(ctx context.Context, req *triggerv1.ClaimTaskRequest) (*triggerv1.ClaimTaskResponse, error) {
	t, err := g.tasks.Claim(ctx, req.GetTenant(), req.GetTaskId(), req.GetAssignee())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	return &triggerv1.ClaimTaskResponse{Task: taskToProto(t)}, nil
}

// CompleteTask marks a task done and announces it once; a done task is
// returned as it is.
func (g *GRPC) CompleteTask(ctx context.Context, req *triggerv1.CompleteTaskRequest) (*triggerv1.CompleteTaskResponse, error) {
	t, err := g.tasks.Complete(ctx, req.GetTenant(), req.GetTaskId(), req.GetAssignee(), req.GetOutcome())
	if err != nil {
		return nil, statusOf(err, ruleFields{})
	}
	return &triggerv1.CompleteTaskResponse{Task: taskToProto(t)}, nil
}

// ruleFields says how the fields of a rule in a request are named: under
// which request field it is ("rule", "draft"; empty when the request has
// none) and its kind, which decides the message its trigger fields are in.
type ruleFields struct {
	prefix string
	kind   rule.Kind
}

// statusOf maps the app's errors to status codes: a caller's mistake is
// INVALID_ARGUMENT naming the field (with a google.rpc.BadRequest), an
// unknown rule or task NOT_FOUND, a stale version ABORTED, a taken rule id
// ALREADY_EXISTS, a task held by another agent or done FAILED_PRECONDITION.
func statusOf(err error, rf ruleFields) error {
	var (
		ruleErrs rule.Errors
		ruleErr  rule.FieldError
		argErr   *app.ArgError
		taskErr  *task.FieldError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ruleErrs):
		vs := make([]*errdetails.BadRequest_FieldViolation, len(ruleErrs))
		for i, e := range ruleErrs {
			vs[i] = violation(rf.protoPath(e.Field), e.Reason)
		}
		return invalid(vs...)
	case errors.As(err, &ruleErr):
		return invalid(violation(rf.protoPath(ruleErr.Field), ruleErr.Reason))
	case errors.As(err, &argErr):
		return invalid(violation(argErr.Field, argErr.Reason))
	case errors.As(err, &taskErr):
		return invalid(violation(taskErr.Field, taskErr.Reason))
	// The rule store's errors are its own: the app passes them through.
	case errors.Is(err, adapters.ErrRuleNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, adapters.ErrRuleExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, adapters.ErrVersionConflict):
		return status.Error(codes.Aborted, err.Error()+"; read the rule again and reapply the change")
	case errors.Is(err, task.ErrNotFound):
		return status.Error(codes.NotFound, "task_id: no such task")
	case errors.Is(err, task.ErrHeldByOther), errors.Is(err, task.ErrAlreadyDone):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, app.ErrNotAnnounced):
		return status.Error(codes.Unavailable, app.ErrNotAnnounced.Error())
	case errors.Is(err, task.ErrConflict):
		return status.Error(codes.Aborted, "the task changed concurrently; retry")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "trigger store unavailable; retry")
}

func violation(field, reason string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: reason}
}

// invalid is INVALID_ARGUMENT whose message names every field at fault
// ("rule.actions: needs at least one action") and whose details list them.
func invalid(vs ...*errdetails.BadRequest_FieldViolation) error {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.GetField() + ": " + v.GetDescription()
	}
	st := status.New(codes.InvalidArgument, strings.Join(parts, "; "))
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: vs}); err == nil {
		st = d
	}
	return st.Err()
}

// protoPath turns a field path of the rule's YAML and JSON form, as
// rule.Validate names it ("on.type", "actions[0].notify.template",
// "controls.cap"), into the path of the proto field in the request
// ("rule.after_delay.start.type", "rule.actions[0].notify.template_id",
// "rule.controls.cap_per_customer"). The trigger fields of the YAML form
// are flat; in the proto they sit in the message of the rule's kind.
func (rf ruleFields) protoPath(field string) string {
	segs := strings.Split(field, ".")
	var out []string
	prev := ""
	for i, seg := range segs {
		name, index := seg, ""
		if j := strings.IndexByte(seg, '['); j >= 0 {
			name, index = seg[:j], seg[j:]
		}
		var mapped []string
		switch {
		case i == 0:
			mapped = rf.topLevel(name)
		case name == "op" && prev == "conditions":
			mapped = []string{"operator"}
		case name == "start" && prev == "correlate":
			mapped = []string{"start_path"}
		case name == "other" && prev == "correlate":
			mapped = []string{"other_path"}
		case name == "survey" && prev == "survey":
			mapped = []string{"survey_id"}
		case name == "template" && prev == "notify":
			mapped = []string{"template_id"}
		case name == "secret" && prev == "webhook":
			mapped = []string{"secret_name"}
		case name == "cap" && prev == "controls":
			mapped = []string{"cap_per_customer"}
		default:
			mapped = []string{name}
		}
		mapped[len(mapped)-1] += index
		out = append(out, mapped...)
		prev = name
		if prev == "variables" && i+1 < len(segs) {
			// A map key, such as a template variable, is not a field name.
			out = append(out, segs[i+1:]...)
			break
		}
	}
	if rf.prefix != "" {
		out = append([]string{rf.prefix}, out...)
	}
	return strings.Join(out, ".")
}

// topLevel maps the first field of a YAML path to the proto's.
func (rf ruleFields) topLevel(name string) []string {
	when := map[rule.Kind]string{rule.OnEvent: "on_event", rule.AfterDelay: "after_delay", rule.Absence: "absence",
		rule.Inactivity: "inactivity", rule.SegmentEntry: "segment_entry"}[rf.kind]
	switch name {
	case "id":
		return []string{"rule_id"}
	case "kind":
		return []string{"when"}
	case "on":
		if rf.kind == rule.OnEvent {
			return []string{when, "event"}
		}
		return []string{when, "start"}
	case "delay", "stop":
		return []string{"after_delay", name}
	case "absent", "within":
		return []string{"absence", name}
	case "correlate":
		return []string{when, name}
	case "period":
		return []string{"inactivity", name}
	case "segment":
		return []string{"segment_entry", name}
	}
	return []string{name}
}

// ruleFromProto converts a rule of a request. It refuses only what the
// domain cannot hold, such as a malformed duration; everything else is
// left to rule.Validate, which names the field.
func ruleFromProto(p *triggerv1.Rule, prefix string) (rule.Rule, error) {
	if p == nil {
		return rule.Rule{}, invalid(violation(prefix, "is required"))
	}
	c := &converter{}
	r := rule.Rule{ID: p.GetRuleId(), Version: int(p.GetVersion()), Name: p.GetName(), Description: p.GetDescription(), Enabled: p.GetEnabled()}
	switch w := p.GetWhen().(type) {
	case *triggerv1.Rule_OnEvent:
		r.Kind = rule.OnEvent
		r.Start = eventMatchFromProto(w.OnEvent.GetEvent())
	case *triggerv1.Rule_AfterDelay:
		d := w.AfterDelay
		r.Kind = rule.AfterDelay
		r.Start = eventMatchFromProto(d.GetStart())
		r.Delay = c.duration(d.GetDelay(), prefix+".after_delay.delay")
		for _, s := range d.GetStop() {
			r.Stop = append(r.Stop, *eventMatchFromProto(s))
		}
		r.Correlate = correlationsFromProto(d.GetCorrelate())
	case *triggerv1.Rule_Absence:
		a := w.Absence
		r.Kind = rule.Absence
		r.Start = eventMatchFromProto(a.GetStart())
		r.Absent = eventMatchFromProto(a.GetAbsent())
		r.Within = c.duration(a.GetWithin(), prefix+".absence.within")
		r.Correlate = correlationsFromProto(a.GetCorrelate())
	case *triggerv1.Rule_Inactivity:
		r.Kind = rule.Inactivity
		r.Period = c.duration(w.Inactivity.GetPeriod(), prefix+".inactivity.period")
	case *triggerv1.Rule_SegmentEntry:
		r.Kind = rule.SegmentEntry
		r.Segment = w.SegmentEntry.GetSegment()
	}
	r.Conditions = conditionsFromProto(p.GetConditions())
	for i, a := range p.GetActions() {
		r.Actions = append(r.Actions, c.actionFromProto(a, fmt.Sprintf("%s.actions[%d]", prefix, i)))
	}
	if ctl := p.GetControls(); ctl != nil {
		r.Controls = rule.Controls{CapPerCustomer: int(ctl.GetCapPerCustomer()), CapWindow: c.duration(ctl.GetCapWindow(), prefix+".controls.cap_window"),
			ExemptFromGlobalCap: ctl.GetExemptFromGlobalCap(), Reentry: ctl.GetReentry(), Priority: int(ctl.GetPriority()), FireOverdue: ctl.GetFireOverdue()}
		for _, x := range ctl.GetExit() {
			r.Controls.Exit = append(r.Controls.Exit, *eventMatchFromProto(x))
		}
	}
	if len(c.violations) > 0 {
		return rule.Rule{}, invalid(c.violations...)
	}
	return r, nil
}

// converter collects what cannot be converted, by proto field path.
type converter struct {
	violations []*errdetails.BadRequest_FieldViolation
}

func (c *converter) duration(d *durationpb.Duration, field string) rule.Duration {
	if d == nil {
		return 0
	}
	if err := d.CheckValid(); err != nil {
		c.violations = append(c.violations, violation(field, err.Error()))
		return 0
	}
	return rule.Duration(d.AsDuration())
}

func (c *converter) actionFromProto(a *triggerv1.Action, field string) rule.Action {
	switch x := a.GetAction().(type) {
	case *triggerv1.Action_Survey:
		s := x.Survey
		return rule.Action{Survey: &rule.SurveyAction{SurveyID: s.GetSurveyId(), Channel: channelName(s.GetChannel()), Touchpoint: s.GetTouchpoint(), Transactional: s.GetTransactional()}}
	case *triggerv1.Action_Notify:
		n := x.Notify
		return rule.Action{Notify: &rule.NotifyAction{Template: n.GetTemplateId(), Channel: channelName(n.GetChannel()), Transactional: n.GetTransactional(), Variables: n.GetVariables()}}
	case *triggerv1.Action_Task:
		t := x.Task
		return rule.Action{Task: &rule.TaskAction{Reason: t.GetReason(), Priority: priorityName(t.GetPriority()), DueIn: c.duration(t.GetDueIn(), field+".task.due_in"),
			Assignee: t.GetAssignee(), NotifyHelpdesk: t.GetNotifyHelpdesk()}}
	case *triggerv1.Action_Webhook:
		return rule.Action{Webhook: &rule.WebhookAction{URL: x.Webhook.GetUrl(), SecretName: x.Webhook.GetSecretName()}}
	case *triggerv1.Action_SetTrait:
		return rule.Action{SetTrait: &rule.SetTraitAction{Key: x.SetTrait.GetKey(), Value: x.SetTrait.GetValue()}}
	}
	return rule.Action{} // none set: rule.Validate names it
}

// eventMatchFromProto converts an event match; nil stays nil, so that a
// missing one is named by rule.Validate.
func eventMatchFromProto(m *triggerv1.EventMatch) *rule.EventMatch {
	if m == nil {
		return nil
	}
	return &rule.EventMatch{Type: m.GetType(), Conditions: conditionsFromProto(m.GetConditions())}
}

func correlationsFromProto(cs []*triggerv1.Correlation) []rule.Correlation {
	var out []rule.Correlation
	for _, c := range cs {
		out = append(out, rule.Correlation{Start: c.GetStartPath(), Other: c.GetOtherPath()})
	}
	return out
}

func conditionsFromProto(cs []*triggerv1.Condition) []rule.Condition {
	var out []rule.Condition
	for _, c := range cs {
		out = append(out, rule.Condition{Path: c.GetPath(), Op: operatorName(c.GetOperator()), Values: c.GetValues(), ValuePath: c.GetValuePath(), Factor: c.GetFactor()})
	}
	return out
}

var operators = map[triggerv1.Operator]rule.Operator{
	triggerv1.Operator_OPERATOR_EQ: rule.Eq, triggerv1.Operator_OPERATOR_NE: rule.Ne,
	triggerv1.Operator_OPERATOR_GT: rule.Gt, triggerv1.Operator_OPERATOR_GTE: rule.Gte,
	triggerv1.Operator_OPERATOR_LT: rule.Lt, triggerv1.Operator_OPERATOR_LTE: rule.Lte,
	triggerv1.Operator_OPERATOR_IN: rule.In, triggerv1.Operator_OPERATOR_NOT_IN: rule.NotIn,
	triggerv1.Operator_OPERATOR_CONTAINS: rule.Contains, triggerv1.Operator_OPERATOR_EXISTS: rule.Exists,
}

// operatorName is the domain's operator; "" for OPERATOR_UNSPECIFIED, and
// the number for one this build does not know, which rule.Validate
// refuses.
func operatorName(o triggerv1.Operator) rule.Operator {
	if o == triggerv1.Operator_OPERATOR_UNSPECIFIED {
		return ""
	}
	if op, ok := operators[o]; ok {
		return op
	}
	return rule.Operator(strconv.Itoa(int(o)))
}

func operatorToProto(op rule.Operator) triggerv1.Operator {
	for k, v := range operators {
		if v == op {
			return k
		}
	}
	return triggerv1.Operator_OPERATOR_UNSPECIFIED
}

var channels = map[journeyv1.Channel]string{
	journeyv1.Channel_CHANNEL_UNSPECIFIED: rule.ChannelAuto,
	journeyv1.Channel_CHANNEL_EMAIL:       rule.ChannelEmail,
	journeyv1.Channel_CHANNEL_SMS:         rule.ChannelSMS,
	journeyv1.Channel_CHANNEL_PUSH:        rule.ChannelPush,
	journeyv1.Channel_CHANNEL_WEBHOOK:     rule.ChannelWebhook,
}

// channelName is the domain's channel: "auto" (the customer's preferred
// one) for CHANNEL_UNSPECIFIED, the number for an unknown one.
func channelName(c journeyv1.Channel) string {
	if n, ok := channels[c]; ok {
		return n
	}
	return strconv.Itoa(int(c))
}

func channelToProto(name string) journeyv1.Channel {
	for k, v := range channels {
		if v == name {
			return k
		}
	}
	return journeyv1.Channel_CHANNEL_UNSPECIFIED // "" and "auto"
}

// taskPriorities maps the proto's priorities to the domain's; unspecified
// is "" (normal in a rule's action, any in a filter).
var taskPriorities = map[triggerv1.TaskPriority]task.Priority{
	triggerv1.TaskPriority_TASK_PRIORITY_UNSPECIFIED: "",
	triggerv1.TaskPriority_TASK_PRIORITY_LOW:         task.Low,
	triggerv1.TaskPriority_TASK_PRIORITY_NORMAL:      task.Normal,
	triggerv1.TaskPriority_TASK_PRIORITY_HIGH:        task.High,
	triggerv1.TaskPriority_TASK_PRIORITY_URGENT:      task.Urgent,
}

var taskStates = map[triggerv1.TaskState]task.State{
	triggerv1.TaskState_TASK_STATE_UNSPECIFIED: "",
	triggerv1.TaskState_TASK_STATE_OPEN:        task.Open,
	triggerv1.TaskState_TASK_STATE_CLAIMED:     task.Claimed,
	triggerv1.TaskState_TASK_STATE_DONE:        task.Done,
}

func priorityName(p triggerv1.TaskPriority) string {
	if n, ok := taskPriorities[p]; ok {
		return string(n)
	}
	return strconv.Itoa(int(p))
}

func priorityToProto(p string) triggerv1.TaskPriority {
	for k, v := range taskPriorities {
		if string(v) == p && p != "" {
			return k
		}
	}
	return triggerv1.TaskPriority_TASK_PRIORITY_UNSPECIFIED
}

func stateToProto(s task.State) triggerv1.TaskState {
	for k, v := range taskStates {
		if v == s && s != "" {
			return k
		}
	}
	return triggerv1.TaskState_TASK_STATE_UNSPECIFIED
}

// ruleToProto converts a stored rule for a response.
func ruleToProto(r rule.Rule) *triggerv1.Rule {
	p := &triggerv1.Rule{RuleId: r.ID, Version: int32(r.Version), Name: r.Name, Description: r.Description, Enabled: r.Enabled,
		Conditions: conditionsToProto(r.Conditions), UpdatedBy: r.UpdatedBy, UpdatedAt: ts(r.UpdatedAt)}
	switch r.Kind {
	case rule.OnEvent:
		p.When = &triggerv1.Rule_OnEvent{OnEvent: &triggerv1.EventTrigger{Event: eventMatchToProto(r.Start)}}
	case rule.AfterDelay:
		d := &triggerv1.DelayTrigger{Start: eventMatchToProto(r.Start), Delay: durationToProto(r.Delay), Correlate: correlationsToProto(r.Correlate)}
		for i := range r.Stop {
			d.Stop = append(d.Stop, eventMatchToProto(&r.Stop[i]))
		}
		p.When = &triggerv1.Rule_AfterDelay{AfterDelay: d}
	case rule.Absence:
		p.When = &triggerv1.Rule_Absence{Absence: &triggerv1.AbsenceTrigger{Start: eventMatchToProto(r.Start), Absent: eventMatchToProto(r.Absent),
			Within: durationToProto(r.Within), Correlate: correlationsToProto(r.Correlate)}}
	case rule.Inactivity:
		p.When = &triggerv1.Rule_Inactivity{Inactivity: &triggerv1.InactivityTrigger{Period: durationToProto(r.Period)}}
	case rule.SegmentEntry:
		p.When = &triggerv1.Rule_SegmentEntry{SegmentEntry: &triggerv1.SegmentTrigger{Segment: r.Segment}}
	}
	for _, a := range r.Actions {
		p.Actions = append(p.Actions, actionToProto(a))
	}
	c := r.Controls
	p.Controls = &triggerv1.Controls{CapPerCustomer: int32(c.CapPerCustomer), CapWindow: durationToProto(c.CapWindow), ExemptFromGlobalCap: c.ExemptFromGlobalCap,
		Reentry: c.Reentry, Priority: int32(c.Priority), FireOverdue: c.FireOverdue}
	for i := range c.Exit {
		p.Controls.Exit = append(p.Controls.Exit, eventMatchToProto(&c.Exit[i]))
	}
	return p
}

func actionToProto(a rule.Action) *triggerv1.Action {
	switch {
	case a.Survey != nil:
		s := a.Survey
		return &triggerv1.Action{Action: &triggerv1.Action_Survey{Survey: &triggerv1.SurveyAction{SurveyId: s.SurveyID, Channel: channelToProto(s.Channel),
			Touchpoint: s.Touchpoint, Transactional: s.Transactional}}}
	case a.Notify != nil:
		n := a.Notify
		return &triggerv1.Action{Action: &triggerv1.Action_Notify{Notify: &triggerv1.NotifyAction{TemplateId: n.Template, Channel: channelToProto(n.Channel),
			Transactional: n.Transactional, Variables: n.Variables}}}
	case a.Task != nil:
		t := a.Task
		return &triggerv1.Action{Action: &triggerv1.Action_Task{Task: &triggerv1.TaskAction{Reason: t.Reason, Priority: priorityToProto(t.Priority),
			DueIn: durationToProto(t.DueIn), Assignee: t.Assignee, NotifyHelpdesk: t.NotifyHelpdesk}}}
	case a.Webhook != nil:
		return &triggerv1.Action{Action: &triggerv1.Action_Webhook{Webhook: &triggerv1.WebhookAction{Url: a.Webhook.URL, SecretName: a.Webhook.SecretName}}}
	case a.SetTrait != nil:
		return &triggerv1.Action{Action: &triggerv1.Action_SetTrait{SetTrait: &triggerv1.SetTraitAction{Key: a.SetTrait.Key, Value: a.SetTrait.Value}}}
	}
	return &triggerv1.Action{}
}

func eventMatchToProto(m *rule.EventMatch) *triggerv1.EventMatch {
	if m == nil {
		return nil
	}
	return &triggerv1.EventMatch{Type: m.Type, Conditions: conditionsToProto(m.Conditions)}
}

func correlationsToProto(cs []rule.Correlation) []*triggerv1.Correlation {
	var out []*triggerv1.Correlation
	for _, c := range cs {
		out = append(out, &triggerv1.Correlation{StartPath: c.Start, OtherPath: c.Other})
	}
	return out
}

func conditionsToProto(cs []rule.Condition) []*triggerv1.Condition {
	var out []*triggerv1.Condition
	for _, c := range cs {
		out = append(out, &triggerv1.Condition{Path: c.Path, Operator: operatorToProto(c.Op), Values: c.Values, ValuePath: c.ValuePath, Factor: c.Factor})
	}
	return out
}

func durationToProto(d rule.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d.Std())
}

func taskToProto(t *task.Task) *triggerv1.Task {
	return &triggerv1.Task{TaskId: t.ID, Customer: customerToProto(app.Customer(t.Customer)), Reason: t.Reason, RuleId: t.RuleID, RuleVersion: int32(t.RuleVersion),
		CauseEventId: t.CauseEventID, Priority: priorityToProto(string(t.Priority)), State: stateToProto(t.State), Assignee: t.Assignee, Outcome: t.Outcome,
		CreatedAt: ts(t.CreatedAt), DueAt: ts(t.DueAt), ClaimedAt: ts(t.ClaimedAt), CompletedAt: ts(t.CompletedAt)}
}

func customerToProto(c app.Customer) *journeyv1.Customer {
	return &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
}

// timeOf converts an optional timestamp; absent is the zero time.
func timeOf(t *timestamppb.Timestamp, field string) (time.Time, error) {
	if t == nil {
		return time.Time{}, nil
	}
	if err := t.CheckValid(); err != nil {
		return time.Time{}, invalid(violation(field, err.Error()))
	}
	return t.AsTime(), nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
