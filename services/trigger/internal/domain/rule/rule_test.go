package rule_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

const week = rule.Duration(7 * rule.Day)

// valid returns a fresh valid rule of each kind, so cases can change them
// freely.
func valid() map[rule.Kind]rule.Rule {
	return map[rule.Kind]rule.Rule{
		rule.OnEvent: {
			ID: "big-order", Kind: rule.OnEvent,
			Start:   &rule.EventMatch{Type: "order.placed"},
			Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "big-order-thanks"}}},
		},
		rule.AfterDelay: {
			ID: "csat-after-delivery", Kind: rule.AfterDelay,
			Start: &rule.EventMatch{Type: "order.delivered"},
			Delay: week,
			Stop:  []rule.EventMatch{{Type: "order.refunded"}},
			Correlate: []rule.Correlation{
				{Start: "event.order_delivered.order_id", Other: "event.order_refunded.order_id"},
			},
			Actions: []rule.Action{{Survey: &rule.SurveyAction{SurveyID: "csat-delivery", Touchpoint: "order:{event.order_delivered.order_id}"}}},
		},
		rule.Absence: {
			ID: "viewed-not-bought", Kind: rule.Absence,
			Start:  &rule.EventMatch{Type: "product.viewed"},
			Absent: &rule.EventMatch{Type: "order.placed"},
			Within: week,
			Correlate: []rule.Correlation{
				{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"},
			},
			Actions: []rule.Action{{Notify: &rule.NotifyAction{
				Template:  "viewed-discount",
				Variables: map[string]string{"product_id": "{event.product_viewed.product.product_id}"},
			}}},
		},
		rule.Inactivity: {
			ID: "winback", Kind: rule.Inactivity,
			Period:  rule.Duration(90 * rule.Day),
			Actions: []rule.Action{{Task: &rule.TaskAction{Reason: "churn risk"}}},
		},
		rule.SegmentEntry: {
			ID: "vip-welcome", Kind: rule.SegmentEntry,
			Segment: "vip",
			Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "vip-welcome"}}},
		},
	}
}

func TestValidRulesValidate(t *testing.T) {
	t.Parallel()
	for kind, r := range valid() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			if errs := r.Validate(); errs != nil {
				t.Fatalf("Validate = %v, want none", errs)
			}
			if err := r.Validate().Err(); err != nil {
				t.Fatalf("Validate().Err() = %v, want nil", err)
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		kind   rule.Kind
		change func(r *rule.Rule)
		field  string
	}{
		// Identity.
		{"id missing", rule.OnEvent, func(r *rule.Rule) { r.ID = "" }, "id"},
		{"id with capitals and a space", rule.OnEvent, func(r *rule.Rule) { r.ID = "Win Back" }, "id"},
		{"id starting with a dash", rule.OnEvent, func(r *rule.Rule) { r.ID = "-winback" }, "id"},
		{"id of 64 characters", rule.OnEvent, func(r *rule.Rule) { r.ID = strings.Repeat("a", 64) }, "id"},
		{"negative version", rule.OnEvent, func(r *rule.Rule) { r.Version = -1 }, "version"},
		{"name too long", rule.OnEvent, func(r *rule.Rule) { r.Name = strings.Repeat("n", 201) }, "name"},

		// Kinds and their fields.
		{"kind missing", rule.OnEvent, func(r *rule.Rule) { r.Kind = "" }, "kind"},
		{"kind unknown", rule.OnEvent, func(r *rule.Rule) { r.Kind = "delayed" }, "kind"},
		{"event without on", rule.OnEvent, func(r *rule.Rule) { r.Start = nil }, "on"},
		{"event with a delay", rule.OnEvent, func(r *rule.Rule) { r.Delay = week }, "delay"},
		{"event with a segment", rule.OnEvent, func(r *rule.Rule) { r.Segment = "vip" }, "segment"},
		{"delay without on", rule.AfterDelay, func(r *rule.Rule) { r.Start = nil; r.Correlate = nil }, "on"},
		{"delay without delay", rule.AfterDelay, func(r *rule.Rule) { r.Delay = 0 }, "delay"},
		{"negative delay", rule.AfterDelay, func(r *rule.Rule) { r.Delay = -week }, "delay"},
		{"delay with within", rule.AfterDelay, func(r *rule.Rule) { r.Within = week }, "within"},
		{"delay with a period", rule.AfterDelay, func(r *rule.Rule) { r.Period = week }, "period"},
		{"delay correlating without stop events", rule.AfterDelay, func(r *rule.Rule) { r.Stop = nil }, "correlate"},
		{"stop type missing", rule.AfterDelay, func(r *rule.Rule) { r.Stop[0].Type = ""; r.Correlate = nil }, "stop[0].type"},
		{"stop type not dotted", rule.AfterDelay, func(r *rule.Rule) { r.Stop[0].Type = "refund"; r.Correlate = nil }, "stop[0].type"},
		{"second stop type without a correlation", rule.AfterDelay, func(r *rule.Rule) {
			r.Stop = append(r.Stop, rule.EventMatch{Type: "order.cancelled"})
		}, "stop[1].type"},
		{"the same stop tied twice", rule.AfterDelay, func(r *rule.Rule) {
			r.Correlate = append(r.Correlate, rule.Correlation{Start: "event.order_delivered.order_id", Other: "event.properties.order_id"})
		}, "correlate[1]"},
		{"correlation start outside the event", rule.AfterDelay, func(r *rule.Rule) { r.Correlate[0].Start = "profile.profile_id" }, "correlate[0].start"},
		{"correlation start into another body", rule.AfterDelay, func(r *rule.Rule) { r.Correlate[0].Start = "event.order_placed.order_id" }, "correlate[0].start"},
		{"correlation other missing", rule.AfterDelay, func(r *rule.Rule) { r.Correlate[0].Other = "" }, "correlate[0].other"},
		{"correlation other reading no stop event's body", rule.AfterDelay, func(r *rule.Rule) {
			r.Correlate = append(r.Correlate, rule.Correlation{Start: "event.order_delivered.order_id", Other: "event.order_paid.order_id"})
		}, "correlate[1].other"},
		{"correlation path malformed", rule.AfterDelay, func(r *rule.Rule) { r.Correlate[0].Other = "event.order_refunded..order_id" }, "correlate[0].other"},
		{"absence without absent", rule.Absence, func(r *rule.Rule) { r.Absent = nil }, "absent"},
		{"absence without within", rule.Absence, func(r *rule.Rule) { r.Within = 0 }, "within"},
		{"absence with stop events", rule.Absence, func(r *rule.Rule) { r.Stop = []rule.EventMatch{{Type: "order.refunded"}} }, "stop"},
		{"absent type malformed", rule.Absence, func(r *rule.Rule) { r.Absent.Type = "Order.Placed"; r.Correlate = nil }, "absent.type"},
		{"absence correlation into the wrong body", rule.Absence, func(r *rule.Rule) {
			r.Correlate[0].Other = "event.cart_updated.items[*].product.product_id"
		}, "correlate[0].other"},
		{"inactivity without a period", rule.Inactivity, func(r *rule.Rule) { r.Period = 0 }, "period"},
		{"inactivity with on", rule.Inactivity, func(r *rule.Rule) { r.Start = &rule.EventMatch{Type: "order.placed"} }, "on"},
		{"segment missing", rule.SegmentEntry, func(r *rule.Rule) { r.Segment = "" }, "segment"},
		{"segment in capitals", rule.SegmentEntry, func(r *rule.Rule) { r.Segment = "VIP" }, "segment"},
		{"segment with correlate", rule.SegmentEntry, func(r *rule.Rule) {
			r.Correlate = []rule.Correlation{{Start: "event.id", Other: "event.id"}}
		}, "correlate"},

		// Event matches.
		{"on type missing", rule.OnEvent, func(r *rule.Rule) { r.Start.Type = "" }, "on.type"},
		{"on type in camel case", rule.OnEvent, func(r *rule.Rule) { r.Start.Type = "orderPlaced" }, "on.type"},
		{"on condition reading the profile", rule.OnEvent, func(r *rule.Rule) {
			r.Start.Conditions = []rule.Condition{cond("profile.segments", rule.Contains, "vip")}
		}, "on.conditions[0].path"},
		{"exit type malformed", rule.AfterDelay, func(r *rule.Rule) { r.Controls.Exit = []rule.EventMatch{{Type: "unsubscribed"}} }, "controls.exit[0].type"},

		// Conditions.
		{"condition path without a root", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("order_placed.total.amount", rule.Gt, "1")}
		}, "conditions[0].path"},
		{"condition path into another body", rule.AfterDelay, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.total.amount", rule.Gt, "1")}
		}, "conditions[0].path"},
		{"condition path with an unclosed bracket", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.items[0.quantity", rule.Gt, "1")}
		}, "conditions[0].path"},
		{"second condition without op", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.coupon", rule.Exists), cond("event.order_placed.coupon", "", "X")}
		}, "conditions[1].op"},
		{"unknown op", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.coupon", "like", "X")}
		}, "conditions[0].op"},
		{"values missing", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.coupon", rule.Eq)}
		}, "conditions[0].values"},
		{"two values for gt", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.total.amount", rule.Gt, "1", "2")}
		}, "conditions[0].values"},
		{"values for exists", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{cond("event.order_placed.coupon", rule.Exists, "X")}
		}, "conditions[0].values"},
		{"values and value_path", rule.OnEvent, func(r *rule.Rule) {
			c := condPath("event.order_placed.total.amount", rule.Gt, "profile.commerce.by_currency[0].largest_order.amount", "")
			c.Values = []string{"1"}
			r.Conditions = []rule.Condition{c}
		}, "conditions[0].value_path"},
		{"value_path malformed", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{condPath("event.order_placed.total.amount", rule.Gt, "profile.commerce.by_currency[currency=].amount", "")}
		}, "conditions[0].value_path"},
		{"factor without value_path", rule.OnEvent, func(r *rule.Rule) {
			c := cond("event.order_placed.total.amount", rule.Gt, "1")
			c.Factor = "2"
			r.Conditions = []rule.Condition{c}
		}, "conditions[0].factor"},
		{"factor not a decimal", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{condPath("event.order_placed.total.amount", rule.Gt, "profile.commerce.by_currency[0].average_order_value.amount", "2x")}
		}, "conditions[0].factor"},
		{"factor for contains", rule.OnEvent, func(r *rule.Rule) {
			r.Conditions = []rule.Condition{condPath("profile.segments", rule.Contains, "event.order_placed.coupon", "2")}
		}, "conditions[0].factor"},

		// Actions.
		{"no actions", rule.OnEvent, func(r *rule.Rule) { r.Actions = nil }, "actions"},
		{"an empty action", rule.OnEvent, func(r *rule.Rule) { r.Actions = []rule.Action{{}} }, "actions[0]"},
		{"an action doing two things", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = append(r.Actions, r.Actions[0], rule.Action{
				Notify: &rule.NotifyAction{Template: "a"}, Task: &rule.TaskAction{Reason: "b"},
			})
		}, "actions[2]"},
		{"survey without its survey", rule.AfterDelay, func(r *rule.Rule) { r.Actions[0].Survey.SurveyID = "" }, "actions[0].survey.survey"},
		{"survey without a touchpoint", rule.AfterDelay, func(r *rule.Rule) { r.Actions[0].Survey.Touchpoint = "" }, "actions[0].survey.touchpoint"},
		{"survey touchpoint from another body", rule.AfterDelay, func(r *rule.Rule) {
			r.Actions[0].Survey.Touchpoint = "order:{event.order_placed.order_id}"
		}, "actions[0].survey.touchpoint"},
		{"survey touchpoint with an unclosed brace", rule.AfterDelay, func(r *rule.Rule) {
			r.Actions[0].Survey.Touchpoint = "order:{event.order_delivered.order_id"
		}, "actions[0].survey.touchpoint"},
		{"survey by fax", rule.AfterDelay, func(r *rule.Rule) { r.Actions[0].Survey.Channel = "fax" }, "actions[0].survey.channel"},
		{"notify without a template", rule.OnEvent, func(r *rule.Rule) { r.Actions[0].Notify.Template = "" }, "actions[0].notify.template"},
		{"notify on a made-up channel", rule.OnEvent, func(r *rule.Rule) { r.Actions[0].Notify.Channel = "telegram" }, "actions[0].notify.channel"},
		{"notify variable with a bad name", rule.Absence, func(r *rule.Rule) { r.Actions[0].Notify.Variables["product id"] = "x" }, "actions[0].notify.variables"},
		{"notify variable reading outside the doc", rule.Absence, func(r *rule.Rule) {
			r.Actions[0].Notify.Variables["product_id"] = "{product_viewed.product.product_id}"
		}, "actions[0].notify.variables.product_id"},
		{"task without a reason", rule.Inactivity, func(r *rule.Rule) { r.Actions[0].Task.Reason = "" }, "actions[0].task.reason"},
		{"task priority unknown", rule.Inactivity, func(r *rule.Rule) { r.Actions[0].Task.Priority = "asap" }, "actions[0].task.priority"},
		{"task due in the past", rule.Inactivity, func(r *rule.Rule) { r.Actions[0].Task.DueIn = rule.Duration(-time.Hour) }, "actions[0].task.due_in"},
		{"webhook to a relative URL", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = []rule.Action{{Webhook: &rule.WebhookAction{URL: "/hooks/cx", SecretName: "helpdesk"}}}
		}, "actions[0].webhook.url"},
		{"webhook over ftp", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = []rule.Action{{Webhook: &rule.WebhookAction{URL: "ftp://example.com/x", SecretName: "helpdesk"}}}
		}, "actions[0].webhook.url"},
		{"webhook without a secret", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = []rule.Action{{Webhook: &rule.WebhookAction{URL: "https://helpdesk.example.com/cx"}}}
		}, "actions[0].webhook.secret"},
		{"trait without a key", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = []rule.Action{{SetTrait: &rule.SetTraitAction{Value: "yes"}}}
		}, "actions[0].set_trait.key"},
		{"trait key with a space", rule.OnEvent, func(r *rule.Rule) {
			r.Actions = []rule.Action{{SetTrait: &rule.SetTraitAction{Key: "big spender", Value: "yes"}}}
		}, "actions[0].set_trait.key"},

		// Controls.
		{"cap without a window", rule.AfterDelay, func(r *rule.Rule) { r.Controls.CapPerCustomer = 1; r.Controls.Reentry = true }, "controls.cap_window"},
		{"cap without reentry", rule.AfterDelay, func(r *rule.Rule) { r.Controls.CapPerCustomer = 1; r.Controls.CapWindow = 30 * rule.Duration(rule.Day) }, "controls.cap"},
		{"window without a cap", rule.AfterDelay, func(r *rule.Rule) { r.Controls.CapWindow = 30 * rule.Duration(rule.Day) }, "controls.cap_window"},
		{"negative cap", rule.AfterDelay, func(r *rule.Rule) { r.Controls.CapPerCustomer = -1 }, "controls.cap"},
		{"negative window", rule.AfterDelay, func(r *rule.Rule) {
			r.Controls.CapPerCustomer = 1
			r.Controls.Reentry = true
			r.Controls.CapWindow = -week
		}, "controls.cap_window"},
		{"fire_overdue on an event rule", rule.OnEvent, func(r *rule.Rule) { r.Controls.FireOverdue = true }, "controls.fire_overdue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := valid()[c.kind]
			c.change(&r)
			errs := r.Validate()
			if len(errs) != 1 || errs[0].Field != c.field {
				t.Fatalf("Validate = %v, want one error for %s", errs, c.field)
			}
			if errs[0].Reason == "" {
				t.Fatalf("Validate = %#v, want a reason", errs)
			}
			if !errors.Is(errs, rule.ErrInvalid) || !errors.Is(errs[0], rule.ErrInvalid) {
				t.Fatalf("Validate = %v, want it to be ErrInvalid", errs)
			}
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	t.Parallel()
	r := rule.Rule{ID: "Bad Id", Kind: rule.AfterDelay, Actions: []rule.Action{{Notify: &rule.NotifyAction{}}}}
	got := r.Validate()
	want := []string{"id", "on", "delay", "actions[0].notify.template"}
	if len(got) != len(want) {
		t.Fatalf("Validate = %v, want errors for %v", got, want)
	}
	for i, f := range want {
		if got[i].Field != f {
			t.Fatalf("Validate = %v, want errors for %v in order", got, want)
		}
	}
	if msg := got.Error(); !strings.Contains(msg, "actions[0].notify.template: is required") {
		t.Fatalf("Error() = %q, want it to name field and reason", msg)
	}
}

func TestDelayWithTwoStopTypesCorrelatesEach(t *testing.T) {
	t.Parallel()
	r := valid()[rule.AfterDelay]
	r.Stop = append(r.Stop, rule.EventMatch{Type: "order.cancelled"})
	r.Correlate = append(r.Correlate, rule.Correlation{Start: "event.order_delivered.order_id", Other: "event.order_cancelled.order_id"})
	if errs := r.Validate(); errs != nil {
		t.Fatalf("Validate = %v, want none", errs)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	r := rule.Rule{
		ID: "x", Kind: rule.Inactivity,
		Actions: []rule.Action{
			{Survey: &rule.SurveyAction{SurveyID: "nps", Touchpoint: "t"}},
			{Notify: &rule.NotifyAction{Template: "winback"}},
			{Task: &rule.TaskAction{Reason: "churn risk"}},
			{Task: &rule.TaskAction{Reason: "call", Priority: rule.PriorityHigh, DueIn: rule.Duration(time.Hour)}},
		},
	}
	d := r.WithDefaults()
	if d.Period != rule.DefaultInactivityPeriod {
		t.Errorf("period = %v, want %v", d.Period, rule.DefaultInactivityPeriod)
	}
	if d.Actions[0].Survey.Channel != rule.ChannelAuto || d.Actions[1].Notify.Channel != rule.ChannelAuto {
		t.Errorf("channels = %q, %q; want auto", d.Actions[0].Survey.Channel, d.Actions[1].Notify.Channel)
	}
	if d.Actions[2].Task.Priority != rule.PriorityNormal || d.Actions[2].Task.DueIn != rule.DefaultTaskDueIn {
		t.Errorf("task = %+v, want normal priority due in 24h", *d.Actions[2].Task)
	}
	if d.Actions[3].Task.Priority != rule.PriorityHigh || d.Actions[3].Task.DueIn != rule.Duration(time.Hour) {
		t.Errorf("task = %+v, want its own priority and due_in kept", *d.Actions[3].Task)
	}
	if r.Period != 0 || r.Actions[1].Notify.Channel != "" || r.Actions[2].Task.Priority != "" {
		t.Errorf("WithDefaults changed its receiver: %+v", r)
	}
	if errs := d.Validate(); errs != nil {
		t.Errorf("Validate after WithDefaults = %v, want none", errs)
	}
}
