package rule

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ErrInvalid is what every FieldError and Errors unwrap to: a rule the
// caller must change. Test for it with errors.Is.
var ErrInvalid = errors.New("invalid rule")

// FieldError names one thing wrong with a rule: the field, by its path in
// the rule's YAML and JSON names ("actions[0].notify.template",
// "controls.cap_window"), and why.
type FieldError struct {
	Field  string
	Reason string
}

// Error is "field: reason".
func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e FieldError) Unwrap() error { return ErrInvalid }

// Errors is everything wrong with a rule, in the order of its fields.
type Errors []FieldError

// Error joins the field errors with "; ".
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalid.
func (es Errors) Unwrap() error { return ErrInvalid }

// Err returns es as an error, or nil when it is empty. Use it rather than
// assigning Errors to an error directly: a nil Errors in an error interface
// is not a nil error.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Channels an action may name. Auto is the customer's preferred channel.
const (
	ChannelAuto    = "auto"
	ChannelEmail   = "email"
	ChannelSMS     = "sms"
	ChannelPush    = "push"
	ChannelWebhook = "webhook"
)

// Task priorities, lowest first.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Defaults WithDefaults fills in.
const (
	// DefaultInactivityPeriod is an inactivity rule's silence when it
	// names none, the point at which a customer counts as churned.
	DefaultInactivityPeriod = Duration(90 * Day)
	// DefaultTaskDueIn is a task's SLA when the action names none.
	DefaultTaskDueIn = Duration(24 * time.Hour)
)

var (
	kinds      = []Kind{OnEvent, AfterDelay, Absence, Inactivity, SegmentEntry}
	channels   = []string{ChannelAuto, ChannelEmail, ChannelSMS, ChannelPush, ChannelWebhook}
	priorities = []string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
	operators  = []Operator{Eq, Ne, Gt, Gte, Lt, Lte, In, NotIn, Contains, Exists}

	idPattern        = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	eventTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	variablePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	traitPattern     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
)

// maxNameLen bounds a rule's name, which people read in lists.
const maxNameLen = 200

// WithDefaults returns r with the defaults of omitted fields written out:
// an inactivity rule's period (90 days), channel "auto" for surveys and
// notifications, and a task's priority ("normal") and due_in (24 hours). r
// itself is left as it is.
func (r Rule) WithDefaults() Rule {
	if r.Kind == Inactivity && r.Period == 0 {
		r.Period = DefaultInactivityPeriod
	}
	if r.Actions == nil {
		return r
	}
	actions := make([]Action, len(r.Actions))
	for i, a := range r.Actions {
		if a.Survey != nil && a.Survey.Channel == "" {
			s := *a.Survey
			s.Channel = ChannelAuto
			a.Survey = &s
		}
		if a.Notify != nil && a.Notify.Channel == "" {
			n := *a.Notify
			n.Channel = ChannelAuto
			a.Notify = &n
		}
		if a.Task != nil && (a.Task.Priority == "" || a.Task.DueIn == 0) {
			t := *a.Task
			if t.Priority == "" {
				t.Priority = PriorityNormal
			}
			if t.DueIn == 0 {
				t.DueIn = DefaultTaskDueIn
			}
			a.Task = &t
		}
		actions[i] = a
	}
	r.Actions = actions
	return r
}

// Validate returns everything wrong with r, each naming its field, or nil.
// Empty channel and priority are valid (they mean "auto" and "normal"); an
// inactivity rule needs its period, so apply WithDefaults first where the
// 90-day default is meant.
func (r Rule) Validate() Errors {
	v := &validator{}
	switch {
	case r.ID == "":
		v.add("id", "is required")
	case !idPattern.MatchString(r.ID):
		v.add("id", "%q must be lower-case letters, digits, \"-\" and \"_\", starting with a letter or digit, at most 63 characters", r.ID)
	}
	if r.Version < 0 {
		v.add("version", "must not be negative")
	}
	if n := len([]rune(r.Name)); n > maxNameLen {
		v.add("name", "is %d characters long; at most %d", n, maxNameLen)
	}
	v.trigger(r)
	v.conditions("conditions", r.Conditions, r.firingEventType(), false)
	if len(r.Actions) == 0 {
		v.add("actions", "needs at least one action")
	}
	for i, a := range r.Actions {
		v.action(fmt.Sprintf("actions[%d]", i), a, r.firingEventType())
	}
	v.controls(r)
	return v.errs
}

// firingEventType is the type of the event conditions and placeholders read
// as "event." when the rule fires, where the rule says; "" when it does
// not (inactivity and segment entry).
func (r Rule) firingEventType() string {
	switch r.Kind {
	case OnEvent, AfterDelay, Absence:
		if r.Start != nil {
			return r.Start.Type
		}
	}
	return ""
}

type validator struct {
	errs Errors
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// trigger checks kind and the fields each kind needs, and refuses the
// fields of other kinds.
func (v *validator) trigger(r Rule) {
	if r.Kind == "" {
		v.add("kind", "is required: one of %s", kindList())
		return
	}
	if !slices.Contains(kinds, r.Kind) {
		v.add("kind", "%q is not a kind; want one of %s", r.Kind, kindList())
		return
	}
	set := map[string]bool{
		"on":        r.Start != nil,
		"delay":     r.Delay != 0,
		"stop":      len(r.Stop) > 0,
		"absent":    r.Absent != nil,
		"within":    r.Within != 0,
		"correlate": len(r.Correlate) > 0,
		"period":    r.Period != 0,
		"segment":   r.Segment != "",
	}
	uses := map[Kind][]string{
		OnEvent:      {"on"},
		AfterDelay:   {"on", "delay", "stop", "correlate"},
		Absence:      {"on", "absent", "within", "correlate"},
		Inactivity:   {"period"},
		SegmentEntry: {"segment"},
	}[r.Kind]
	for _, f := range []string{"on", "delay", "stop", "absent", "within", "correlate", "period", "segment"} {
		if set[f] && !slices.Contains(uses, f) {
			v.add(f, "is not used by a rule of kind %s", r.Kind)
		}
	}

	if slices.Contains(uses, "on") {
		if r.Start == nil {
			v.add("on", "is required for kind %s", r.Kind)
		} else {
			v.eventMatch("on", *r.Start)
		}
	}
	switch r.Kind {
	case AfterDelay:
		v.positive("delay", r.Delay, r.Kind)
		for i, s := range r.Stop {
			v.eventMatch(fmt.Sprintf("stop[%d]", i), s)
		}
		if len(r.Correlate) > 0 && len(r.Stop) == 0 {
			v.add("correlate", "needs stop events to correlate with")
		}
		v.correlate(r, r.Stop, "stop")
	case Absence:
		if r.Absent == nil {
			v.add("absent", "is required for kind %s", r.Kind)
		} else {
			v.eventMatch("absent", *r.Absent)
		}
		v.positive("within", r.Within, r.Kind)
		if r.Absent != nil {
			v.correlate(r, []EventMatch{*r.Absent}, "absent")
		}
	case Inactivity:
		v.positive("period", r.Period, r.Kind)
	case SegmentEntry:
		switch {
		case r.Segment == "":
			v.add("segment", "is required for kind %s", r.Kind)
		case !idPattern.MatchString(r.Segment):
			v.add("segment", "%q must be lower-case letters, digits, \"-\" and \"_\", such as \"vip\" or \"at_risk\"", r.Segment)
		}
	}
}

func kindList() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (v *validator) positive(field string, d Duration, k Kind) {
	switch {
	case d == 0:
		v.add(field, "is required for kind %s", k)
	case d < 0:
		v.add(field, "must be positive")
	}
}

// eventMatch checks an event type and its conditions, which read that event
// only.
func (v *validator) eventMatch(field string, m EventMatch) {
	switch {
	case m.Type == "":
		v.add(field+".type", "is required")
	case !eventTypePattern.MatchString(m.Type):
		v.add(field+".type", "%q is not an event type: dotted lower-case names such as \"order.delivered\"", m.Type)
	}
	v.conditions(field+".conditions", m.Conditions, m.Type, true)
}

// correlate checks the correlations of a delay or absence rule against the
// events they tie to the start event (its stop events, or its absent
// event). Each entry must read one of them (see Correlation.AppliesTo), and
// each of them needs exactly one entry per distinct start path — one way to
// tell "the same order" — so that StartKey and OtherKeys agree.
func (v *validator) correlate(r Rule, others []EventMatch, othersField string) {
	startType := ""
	if r.Start != nil {
		startType = r.Start.Type
	}
	otherBad := false
	for i, c := range r.Correlate {
		f := fmt.Sprintf("correlate[%d]", i)
		v.eventPath(f+".start", c.Start, startType)
		if err := checkEventPath(c.Other); err != nil {
			v.add(f+".other", "%v", err)
			otherBad = true
			continue
		}
		applies := false
		for _, o := range others {
			if c.AppliesTo(o.Type) {
				applies = true
			}
		}
		if !applies && len(others) > 0 {
			v.add(f+".other", "reads %s, which none of the %s events has", payloadOf(c.Other), othersField)
			otherBad = true
		}
	}
	if len(r.Correlate) == 0 || otherBad {
		// An entry refused above is likely the one meant to cover the
		// events below: one error says it.
		return
	}
	for i, o := range others {
		if !eventTypePattern.MatchString(o.Type) {
			continue
		}
		field := othersField + ".type"
		if othersField == "stop" {
			field = fmt.Sprintf("stop[%d].type", i)
		}
		for _, sp := range startPaths(r.Correlate) {
			first := -1
			for j, c := range r.Correlate {
				if c.Start != sp || !c.AppliesTo(o.Type) {
					continue
				}
				if first >= 0 {
					v.add(fmt.Sprintf("correlate[%d]", j), "ties %s to %s a second time (see correlate[%d])", o.Type, sp, first)
					continue
				}
				first = j
			}
			if first < 0 {
				v.add(field, "no correlate entry ties %s to %s: add one with other: event.%s.…, or every %s of the customer would count", o.Type, sp, payloadName(o.Type), o.Type)
			}
		}
	}
}

// conditions checks conditions. eventOnly: they belong to an event match
// and read that event alone. eventType, when known, is the event "event."
// paths read.
func (v *validator) conditions(field string, cs []Condition, eventType string, eventOnly bool) {
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		v.conditionPath(f+".path", c.Path, eventType, eventOnly)
		switch {
		case c.Op == "":
			v.add(f+".op", "is required: one of %s", operatorList())
			continue
		case !slices.Contains(operators, c.Op):
			v.add(f+".op", "%q is not an operator; want one of %s", c.Op, operatorList())
			continue
		}
		if c.Op == Exists {
			if len(c.Values) > 0 {
				v.add(f+".values", "must be empty for exists")
			}
			if c.ValuePath != "" {
				v.add(f+".value_path", "must be empty for exists")
			}
			if c.Factor != "" {
				v.add(f+".factor", "must be empty for exists")
			}
			continue
		}
		switch {
		case c.ValuePath != "" && len(c.Values) > 0:
			v.add(f+".value_path", "cannot be used with values")
		case c.ValuePath != "":
			v.conditionPath(f+".value_path", c.ValuePath, eventType, eventOnly)
		case len(c.Values) == 0:
			v.add(f+".values", "is required for %s (or value_path)", c.Op)
		case len(c.Values) > 1 && c.Op != In && c.Op != NotIn:
			v.add(f+".values", "%s takes one value, not %d", c.Op, len(c.Values))
		}
		if c.Factor != "" {
			switch {
			case c.ValuePath == "":
				v.add(f+".factor", "needs value_path")
			case !slices.Contains([]Operator{Eq, Ne, Gt, Gte, Lt, Lte}, c.Op):
				v.add(f+".factor", "applies only to eq, ne, gt, gte, lt and lte")
			case !isDecimal(c.Factor):
				v.add(f+".factor", "%q %v", c.Factor, errNotDecimal)
			}
		}
	}
}

func operatorList() string {
	names := make([]string, len(operators))
	for i, o := range operators {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

func (v *validator) conditionPath(field, path, eventType string, eventOnly bool) {
	if eventOnly {
		v.eventPath(field, path, eventType)
		return
	}
	if err := checkRootPath(path); err != nil {
		v.add(field, "%v", err)
		return
	}
	v.payloadMatches(field, path, eventType)
}

func (v *validator) eventPath(field, path, eventType string) {
	if err := checkEventPath(path); err != nil {
		v.add(field, "%v", err)
		return
	}
	v.payloadMatches(field, path, eventType)
}

// payloadMatches refuses an "event." path into the body of another event
// type than the one it reads ("event.order_placed.total" on a rule started
// by order.delivered), which would never hold.
func (v *validator) payloadMatches(field, path, eventType string) {
	if eventType == "" || !eventTypePattern.MatchString(eventType) || !strings.HasPrefix(path, "event.") {
		return
	}
	if p := payloadOf(path); p != "" && p != payloadName(eventType) {
		v.add(field, "reads %s, but the event here is %s (event.%s.…)", p, eventType, payloadName(eventType))
	}
}

// envelopeFields are the fields of every journey event (JourneyEvent's
// non-body fields); any other first field after "event." is a typed body,
// named after its event type ("order_placed" for order.placed).
var envelopeFields = []string{"id", "tenant", "customer", "type", "occurred_at", "received_at", "source", "context", "properties"}

// payloadOf returns the typed body an "event." path reads, or "" when it
// reads the envelope (customer, properties, ...).
func payloadOf(path string) string {
	rest, ok := strings.CutPrefix(path, "event.")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ".[")
	if end >= 0 {
		rest = rest[:end]
	}
	if slices.Contains(envelopeFields, rest) {
		return ""
	}
	return rest
}

// payloadName is the field of an event type's body in the journey event:
// "order.placed" → "order_placed".
func payloadName(eventType string) string { return strings.ReplaceAll(eventType, ".", "_") }

// AppliesTo reports whether the correlation ties the start event to events
// of eventType: its Other path reads that type's body
// ("event.order_refunded.order_id" applies to order.refunded), or the
// envelope every event has ("event.properties.cart_id"). So a delay rule
// with two stop types correlates each through its own entry.
func (c Correlation) AppliesTo(eventType string) bool {
	p := payloadOf(c.Other)
	return p == "" || p == payloadName(eventType)
}

func (v *validator) action(field string, a Action, eventType string) {
	set := 0
	for _, isSet := range []bool{a.Survey != nil, a.Notify != nil, a.Task != nil, a.Webhook != nil, a.SetTrait != nil} {
		if isSet {
			set++
		}
	}
	if set != 1 {
		v.add(field, "exactly one of survey, notify, task, webhook, set_trait")
		return
	}
	switch {
	case a.Survey != nil:
		f := field + ".survey"
		if a.Survey.SurveyID == "" {
			v.add(f+".survey", "is required")
		}
		v.channel(f+".channel", a.Survey.Channel)
		if a.Survey.Touchpoint == "" {
			v.add(f+".touchpoint", "is required, such as \"order:{event.order_delivered.order_id}\"")
		} else {
			v.template(f+".touchpoint", a.Survey.Touchpoint, eventType)
		}
	case a.Notify != nil:
		f := field + ".notify"
		if a.Notify.Template == "" {
			v.add(f+".template", "is required")
		}
		v.channel(f+".channel", a.Notify.Channel)
		for _, k := range sortedKeys(a.Notify.Variables) {
			if !variablePattern.MatchString(k) {
				v.add(f+".variables", "%q is not a variable name: letters, digits and \"_\", not starting with a digit", k)
				continue
			}
			v.template(f+".variables."+k, a.Notify.Variables[k], eventType)
		}
	case a.Task != nil:
		f := field + ".task"
		if a.Task.Reason == "" {
			v.add(f+".reason", "is required")
		} else {
			v.template(f+".reason", a.Task.Reason, eventType)
		}
		if a.Task.Priority != "" && !slices.Contains(priorities, a.Task.Priority) {
			v.add(f+".priority", "%q is not a priority; want one of %s", a.Task.Priority, strings.Join(priorities, ", "))
		}
		if a.Task.DueIn < 0 {
			v.add(f+".due_in", "must not be negative")
		}
	case a.Webhook != nil:
		f := field + ".webhook"
		if a.Webhook.URL == "" {
			v.add(f+".url", "is required")
		} else if u, err := url.Parse(a.Webhook.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(f+".url", "%q is not an absolute http or https URL", a.Webhook.URL)
		}
		if a.Webhook.SecretName == "" {
			v.add(f+".secret", "is required: the name of the tenant secret that signs the request")
		}
	case a.SetTrait != nil:
		f := field + ".set_trait"
		switch {
		case a.SetTrait.Key == "":
			v.add(f+".key", "is required")
		case !traitPattern.MatchString(a.SetTrait.Key):
			v.add(f+".key", "%q is not a trait key: letters, digits, \"_\", \"-\" and \".\", at most 64", a.SetTrait.Key)
		}
		v.template(f+".value", a.SetTrait.Value, eventType)
	}
}

func (v *validator) channel(field, ch string) {
	if ch != "" && !slices.Contains(channels, ch) {
		v.add(field, "%q is not a channel; want one of %s", ch, strings.Join(channels, ", "))
	}
}

// template checks the {path} placeholders of a text filled in at firing.
func (v *validator) template(field, t, eventType string) {
	bad := false
	err := walkTemplate(t, func(_, path string) {
		if path == "" || bad {
			return
		}
		n := len(v.errs)
		v.payloadMatches(field, path, eventType)
		bad = len(v.errs) > n
	})
	if err != nil {
		v.add(field, "%v", err)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (v *validator) controls(r Rule) {
	c := r.Controls
	switch {
	case c.CapPerCustomer < 0:
		v.add("controls.cap", "must not be negative")
	case c.CapPerCustomer > 0 && c.CapWindow == 0:
		v.add("controls.cap_window", "is required when cap is set, such as \"30d\"")
	case c.CapPerCustomer > 0 && !c.Reentry:
		v.add("controls.cap", "has no effect without reentry: true (without it the rule fires at most once per customer)")
	case c.CapPerCustomer == 0 && c.CapWindow != 0:
		v.add("controls.cap_window", "needs cap, the number of firings allowed in the window")
	}
	if c.CapWindow < 0 {
		v.add("controls.cap_window", "must be positive")
	}
	for i, e := range c.Exit {
		v.eventMatch(fmt.Sprintf("controls.exit[%d]", i), e)
	}
	if c.FireOverdue && (r.Kind == OnEvent || r.Kind == SegmentEntry) {
		v.add("controls.fire_overdue", "is for rules that wait (delay, absence, inactivity), not kind %s", r.Kind)
	}
}
