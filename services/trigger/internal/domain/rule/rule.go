// Package rule is what a trigger rule is: the moment it waits for, the
// conditions on the event and the customer's profile, the actions it takes
// and the controls that keep it from acting too often. It is pure: rules
// are checked and evaluated here; stored, scheduled and executed elsewhere.
package rule

import "time"

// Kind is how a rule is triggered.
type Kind string

// Kinds of rule.
const (
	// OnEvent fires when a matching event arrives.
	OnEvent Kind = "event"
	// AfterDelay fires Delay after a matching start event, unless a stop
	// event for the same correlation comes first.
	AfterDelay Kind = "delay"
	// Absence fires when a start event is not followed by a matching
	// absent event within Within ("viewed and did not buy that product in
	// a week").
	Absence Kind = "absence"
	// Inactivity fires when the customer has done nothing for Period.
	Inactivity Kind = "inactivity"
	// SegmentEntry fires when the customer enters Segment.
	SegmentEntry Kind = "segment"
)

// Rule is one version of a tenant's rule.
type Rule struct {
	ID          string `json:"id" yaml:"id"`
	Version     int    `json:"version" yaml:"version"`
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Enabled     bool   `json:"enabled" yaml:"enabled"`

	Kind Kind `json:"kind" yaml:"kind"`
	// Start is the event that fires (OnEvent) or starts the wait
	// (AfterDelay, Absence).
	Start *EventMatch `json:"on,omitempty" yaml:"on,omitempty"`
	// Delay is AfterDelay's wait.
	Delay Duration `json:"delay,omitempty" yaml:"delay,omitempty"`
	// Stop cancels a pending AfterDelay.
	Stop []EventMatch `json:"stop,omitempty" yaml:"stop,omitempty"`
	// Absent is the event whose absence Absence waits for, within Within.
	Absent *EventMatch `json:"absent,omitempty" yaml:"absent,omitempty"`
	Within Duration    `json:"within,omitempty" yaml:"within,omitempty"`
	// Correlate ties start and stop/absent events together ("the same
	// order", "that product").
	Correlate []Correlation `json:"correlate,omitempty" yaml:"correlate,omitempty"`
	// Period is Inactivity's silence.
	Period Duration `json:"period,omitempty" yaml:"period,omitempty"`
	// Segment is SegmentEntry's segment.
	Segment string `json:"segment,omitempty" yaml:"segment,omitempty"`

	// Conditions must all hold when the rule fires; they read the firing
	// event ("event.…") and the customer's profile ("profile.…").
	Conditions []Condition `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Actions    []Action    `json:"actions" yaml:"actions"`
	Controls   Controls    `json:"controls,omitempty" yaml:"controls,omitempty"`

	UpdatedBy string    `json:"updated_by,omitempty" yaml:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"updated_at,omitempty"`
}

// EventMatch names an event type and conditions on that event.
type EventMatch struct {
	Type       string      `json:"type" yaml:"type"`
	Conditions []Condition `json:"conditions,omitempty" yaml:"conditions,omitempty"`
}

// Correlation says which field of the start event must equal which field
// of the other event, e.g. start "event.order_delivered.order_id" and
// other "event.order_refunded.order_id".
type Correlation struct {
	Start string `json:"start" yaml:"start"`
	Other string `json:"other" yaml:"other"`
}

// Operator compares a path's value.
type Operator string

// Operators.
const (
	Eq       Operator = "eq"
	Ne       Operator = "ne"
	Gt       Operator = "gt"
	Gte      Operator = "gte"
	Lt       Operator = "lt"
	Lte      Operator = "lte"
	In       Operator = "in"
	NotIn    Operator = "not_in"
	Contains Operator = "contains"
	Exists   Operator = "exists"
)

// Condition compares the value at Path with literal Values, or with the
// value at ValuePath times Factor ("order total > 2 × the customer's AOV").
type Condition struct {
	Path      string   `json:"path" yaml:"path"`
	Op        Operator `json:"op" yaml:"op"`
	Values    []string `json:"values,omitempty" yaml:"values,omitempty"`
	ValuePath string   `json:"value_path,omitempty" yaml:"value_path,omitempty"`
	Factor    string   `json:"factor,omitempty" yaml:"factor,omitempty"`
}

// Action is one thing a firing does; exactly one field is set.
type Action struct {
	Survey   *SurveyAction   `json:"survey,omitempty" yaml:"survey,omitempty"`
	Notify   *NotifyAction   `json:"notify,omitempty" yaml:"notify,omitempty"`
	Task     *TaskAction     `json:"task,omitempty" yaml:"task,omitempty"`
	Webhook  *WebhookAction  `json:"webhook,omitempty" yaml:"webhook,omitempty"`
	SetTrait *SetTraitAction `json:"set_trait,omitempty" yaml:"set_trait,omitempty"`
}

// SurveyAction invites the customer to a survey.
type SurveyAction struct {
	SurveyID      string `json:"survey" yaml:"survey"`
	Channel       string `json:"channel,omitempty" yaml:"channel,omitempty"` // "auto" (default), "email", "sms", ...
	Touchpoint    string `json:"touchpoint,omitempty" yaml:"touchpoint,omitempty"`
	Transactional bool   `json:"transactional,omitempty" yaml:"transactional,omitempty"`
}

// NotifyAction sends the customer a message from a template.
type NotifyAction struct {
	Template      string            `json:"template" yaml:"template"`
	Channel       string            `json:"channel,omitempty" yaml:"channel,omitempty"`
	Transactional bool              `json:"transactional,omitempty" yaml:"transactional,omitempty"`
	Variables     map[string]string `json:"variables,omitempty" yaml:"variables,omitempty"`
}

// TaskAction creates a follow-up task for an agent.
type TaskAction struct {
	Reason         string   `json:"reason" yaml:"reason"`
	Priority       string   `json:"priority,omitempty" yaml:"priority,omitempty"` // low, normal, high, urgent
	DueIn          Duration `json:"due_in,omitempty" yaml:"due_in,omitempty"`
	Assignee       string   `json:"assignee,omitempty" yaml:"assignee,omitempty"`
	NotifyHelpdesk bool     `json:"notify_helpdesk,omitempty" yaml:"notify_helpdesk,omitempty"`
}

// WebhookAction posts the firing, HMAC-signed, to a URL.
type WebhookAction struct {
	URL        string `json:"url" yaml:"url"`
	SecretName string `json:"secret,omitempty" yaml:"secret,omitempty"`
}

// SetTraitAction sets a custom trait on the customer's profile.
type SetTraitAction struct {
	Key   string `json:"key" yaml:"key"`
	Value string `json:"value" yaml:"value"`
}

// Controls keep a rule from acting too often.
type Controls struct {
	// CapPerCustomer firings per customer within CapWindow (0: no cap).
	CapPerCustomer int      `json:"cap,omitempty" yaml:"cap,omitempty"`
	CapWindow      Duration `json:"cap_window,omitempty" yaml:"cap_window,omitempty"`
	// ExemptFromGlobalCap lets the rule act past the tenant-wide cap
	// (transactional moments such as a detractor follow-up).
	ExemptFromGlobalCap bool `json:"exempt_from_global_cap,omitempty" yaml:"exempt_from_global_cap,omitempty"`
	// Reentry lets a customer fire the rule again after it fired once.
	Reentry bool `json:"reentry,omitempty" yaml:"reentry,omitempty"`
	// Exit events end a pending wait and suppress firings after them.
	Exit []EventMatch `json:"exit,omitempty" yaml:"exit,omitempty"`
	// Priority orders rules that fire together (higher first).
	Priority int `json:"priority,omitempty" yaml:"priority,omitempty"`
	// FireOverdue lets a timer whose moment passed before its start event
	// arrived (imported history) fire at once.
	FireOverdue bool `json:"fire_overdue,omitempty" yaml:"fire_overdue,omitempty"`
}

// Duration is a time.Duration written as "168h", "7d" or "30m".
type Duration time.Duration
