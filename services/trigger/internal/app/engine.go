// Package app is the trigger service's engine: it matches journey events
// against the tenants' rules, keeps the durable timers of delayed, absence
// and inactivity rules, applies the controls, and acts, exactly once per
// firing.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey/activity"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// Customer names the customer an event is about.
type Customer struct {
	CustomerID  string `json:"customer_id,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	AnonymousID string `json:"anonymous_id,omitempty"`
}

// Key is a stable opaque key for the customer: a hash of their most
// authoritative identity, so state keys hold no email or phone.
func (c Customer) Key() string {
	var id string
	switch {
	case c.CustomerID != "":
		id = "customer_id:" + c.CustomerID
	case c.Email != "":
		id = "email:" + strings.ToLower(strings.TrimSpace(c.Email))
	case c.Phone != "":
		id = "phone:" + normalPhone(c.Phone)
	case c.AnonymousID != "":
		id = "anonymous_id:" + c.AnonymousID
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:12])
}

// normalPhone keeps the digits and a leading '+', as the profile service
// compares phones.
func normalPhone(p string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(p) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Event is a journey event as the engine sees it.
type Event struct {
	Tenant string
	ID     string
	Type   string
	// Source is who published the event: a shop, or a Bazgasht service.
	Source     string
	OccurredAt time.Time
	Customer   Customer
	// Doc is the event's JSON form (proto field names), for conditions,
	// correlations and templates.
	Doc map[string]any
}

// Firing is one rule acting (or held back) for one customer.
type Firing struct {
	// ID is derived from the rule, its version and the cause, so a retry or
	// a duplicate event is the same firing.
	ID         string
	Tenant     string
	Rule       rule.Rule
	Customer   Customer
	Cause      Event
	At         time.Time
	Suppressed bool
	// Reason says why it was held back: "cap", "global_cap", "reentry",
	// "exit", "consent".
	Reason string
	// EarlierID is the id the same firing had before survey answers were
	// keyed by answer (rule and event id): a decision recorded under it by
	// an earlier version makes this firing a duplicate.
	EarlierID string
}

// Timer is a pending wait of a delay, absence or inactivity rule.
type Timer struct {
	// Key identifies the wait: a new timer with the same key replaces the
	// old one; cancelling the key cancels it.
	Key      string
	Tenant   string
	RuleID   string
	Version  int
	Customer Customer
	Cause    Event
	At       time.Time
}

// RuleSource gives a tenant's enabled rules, highest priority first.
type RuleSource interface {
	Rules(ctx context.Context, tenant string) ([]rule.Rule, error)
	// Rule returns one version of a rule (for a timer set by it).
	Rule(ctx context.Context, tenant, id string, version int) (rule.Rule, error)
}

// ProfileReader returns the customer's profile as a JSON tree (proto field
// names), or nil when the customer has none yet. With afterEventID set —
// the customer's event being handled — it is the profile once it includes
// that event: a condition about an order reads a profile with the order
// in it, whichever of the two services reached the event first.
type ProfileReader interface {
	Profile(ctx context.Context, tenant string, c Customer, afterEventID string) (map[string]any, error)
}

// Scheduler keeps durable timers.
type Scheduler interface {
	// Schedule sets t, replacing a pending timer with the same key.
	Schedule(ctx context.Context, t Timer) error
	// Cancel drops the pending timers whose key starts with prefix.
	Cancel(ctx context.Context, tenant, prefix string) error
}

// Decision is what was decided about a firing, recorded before acting so
// that a retry after a failure acts the same way.
type Decision struct {
	Suppressed bool   `json:"suppressed,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Done       bool   `json:"done,omitempty"`
}

// State keeps what controls and exactly-once need.
type State interface {
	// Decided returns the decision recorded for a firing, if any.
	Decided(ctx context.Context, tenant, firingID string) (Decision, bool, error)
	// Decide records a firing's decision; false when another was recorded
	// first (then Decided tells it).
	Decide(ctx context.Context, tenant, firingID string, d Decision) (bool, error)
	// Finish marks a firing's actions done.
	Finish(ctx context.Context, tenant, firingID string, d Decision) error
	// Reserve records a firing of rule ruleID for a customer (by the
	// firing's id) in the customer's firing history when the rule's limit
	// (its firings) and the global limit (all rules' firings) both allow
	// it, in one atomic step: two firings racing for the last slot of a
	// cap cannot both get it, whichever consumer or replica they come from.
	// A firing already recorded is allowed again (a retry counts once).
	// When refused, the reason says which limit: "rule" or "global".
	Reserve(ctx context.Context, tenant, customerKey, ruleID, firingID string, at time.Time, rule, global Limit) (ok bool, refused string, err error)
	// Release removes a reservation that its firing will not use.
	Release(ctx context.Context, tenant, customerKey, firingID string) error
	// Advance records cause as the latest start of a wait, unless a later
	// one is recorded; it reports whether cause is the latest. Latest
	// returns the recorded time (zero: none).
	Advance(ctx context.Context, tenant, key string, cause time.Time) (bool, error)
	Latest(ctx context.Context, tenant, key string) (time.Time, error)
	// Stop marks a timer key stopped at; Stopped reports it (zero: not). A
	// timer whose cause is not after the stop does not fire, whatever order
	// the start and the stop arrived in.
	Stop(ctx context.Context, tenant, key string, at time.Time) error
	Stopped(ctx context.Context, tenant, key string) (time.Time, error)
	// AddBuyer records that a customer bought a product; Buyers lists them.
	// Catalog events (a product back in stock) reach customers through it.
	AddBuyer(ctx context.Context, tenant, productID string, c Customer) error
	Buyers(ctx context.Context, tenant, productID string) ([]Customer, error)
}

// Limit bounds a history: at most Count firings at or after Since; a zero
// Count is no limit.
type Limit struct {
	Count int
	Since time.Time
}

// Allows reports whether a history of firing times has room for one more.
func (l Limit) Allows(history []time.Time) bool {
	if l.Count <= 0 {
		return true
	}
	n := 0
	for _, t := range history {
		if !t.Before(l.Since) {
			n++
		}
	}
	return n < l.Count
}

// Actor carries out a firing's actions and announces it (trigger.fired);
// a suppressed firing is only announced.
type Actor interface {
	Act(ctx context.Context, f Firing) error
}

// GlobalCap bounds firings per customer across rules.
type GlobalCap struct {
	Count  int
	Window time.Duration
}

// MaxCauseAge is how old an event may be, by event time, and still make an
// event or segment rule act: an imported history, or a duplicate arriving
// late, does not message customers about the past. A rule with
// fire_overdue acts on older causes too.
const MaxCauseAge = 24 * time.Hour

// Engine matches events against rules.
type Engine struct {
	rules     RuleSource
	profiles  ProfileReader
	timers    Scheduler
	state     State
	actor     Actor
	globalCap GlobalCap
	now       func() time.Time
}

// NewEngine checks its dependencies.
func NewEngine(rules RuleSource, profiles ProfileReader, timers Scheduler, state State, actor Actor, globalCap GlobalCap, now func() time.Time) (*Engine, error) {
	if rules == nil || profiles == nil || timers == nil || state == nil || actor == nil || now == nil {
		return nil, errors.New("app: rules, profiles, timers, state, actor and clock are required")
	}
	return &Engine{rules: rules, profiles: profiles, timers: timers, state: state, actor: actor, globalCap: globalCap, now: now}, nil
}

// Interested reports whether any rule of the tenant could act on an event
// of type typ from source (segment: the segment a segment.entered event
// names): one that starts, stops, ends or exits on that type, a segment
// rule on entering its segment, an inactivity rule on the
// customer's activity — or an order, whose products are recorded for
// back-in-stock rules. Everything else (most of what Bazgasht publishes
// itself: firings, tasks, messages) is acknowledged without being decoded
// for conditions.
func (e *Engine) Interested(ctx context.Context, tenant, typ, source, segment string) (bool, error) {
	if typ == "order.placed" {
		return true, nil
	}
	rules, err := e.rules.Rules(ctx, tenant)
	if err != nil {
		return false, err
	}
	for _, r := range rules {
		if r.Start != nil && r.Start.Type == typ || r.Absent != nil && r.Absent.Type == typ {
			return true, nil
		}
		for _, lists := range [][]rule.EventMatch{r.Stop, r.Controls.Exit} {
			for _, m := range lists {
				if m.Type == typ {
					return true, nil
				}
			}
		}
		switch r.Kind {
		case rule.SegmentEntry:
			if typ == "segment.entered" && segment == r.Segment {
				return true, nil
			}
		case rule.Inactivity:
			if activity.Is(typ, source) {
				return true, nil
			}
		}
	}
	return false, nil
}

// HandleEvent runs every rule of the event's tenant against it: fires
// event and segment rules, starts and stops timers.
func (e *Engine) HandleEvent(ctx context.Context, ev Event) error {
	key := ev.Customer.Key()
	if key == "" {
		return e.fanOut(ctx, ev)
	}
	rules, err := e.rules.Rules(ctx, ev.Tenant)
	if err != nil {
		return err
	}
	doc := rule.Doc{"event": ev.Doc}
	var candidates []Firing
	// Waits (timers started, stopped, moved) do not depend on what fires
	// now, nor it on them: they run beside the firings, so an action does
	// not wait for the bookkeeping of other rules.
	var waits []func() error
	if ev.Type == "order.placed" {
		for _, p := range rule.Values(doc, "event.order_placed.items[*].product.product_id") {
			waits = append(waits, func() error { return e.state.AddBuyer(ctx, ev.Tenant, p, ev.Customer) })
		}
	}
	for _, r := range rules {
		// Exits come first: a firing caused no later than an exit is held
		// back by it.
		for _, x := range r.Controls.Exit {
			if matches(x, ev.Type, doc) {
				if err := e.exit(ctx, ev, key, r); err != nil {
					return err
				}
			}
		}
		switch r.Kind {
		case rule.OnEvent:
			if matches(*r.Start, ev.Type, doc) && e.fresh(r, ev) {
				f := e.firing(r, ev, momentOf(ev, doc), ev.OccurredAt)
				if moment := momentOf(ev, doc); moment != ev.ID {
					f.EarlierID = e.firing(r, ev, ev.ID, ev.OccurredAt).ID
				}
				candidates = append(candidates, f)
			}
		case rule.SegmentEntry:
			if ev.Type == "segment.entered" && segmentOf(ev) == r.Segment && e.fresh(r, ev) {
				candidates = append(candidates, e.firing(r, ev, ev.ID, ev.OccurredAt))
			}
		case rule.AfterDelay:
			waits = append(waits, func() error { return e.waitOrStop(ctx, r, ev, key, doc, r.Stop, time.Duration(r.Delay)) })
		case rule.Absence:
			waits = append(waits, func() error {
				return e.waitOrStop(ctx, r, ev, key, doc, []rule.EventMatch{*r.Absent}, time.Duration(r.Within))
			})
		case rule.Inactivity:
			if activity.Is(ev.Type, ev.Source) {
				at := ev.OccurredAt.Add(time.Duration(r.Period))
				if at.After(e.now()) || r.Controls.FireOverdue {
					t := Timer{Key: timerKey(r.ID, key, "idle"), Tenant: ev.Tenant, RuleID: r.ID, Version: r.Version, Customer: ev.Customer, Cause: ev, At: at}
					waits = append(waits, func() error { return e.schedule(ctx, t) })
				}
			}
		}
	}
	errs := make([]error, len(waits)+1)
	var wg sync.WaitGroup
	for i, w := range waits {
		wg.Go(func() { errs[i] = w() })
	}
	errs[len(waits)] = e.fireAll(ctx, candidates, ev.ID)
	wg.Wait()
	return errors.Join(errs...)
}

// fanOut hands a catalog event (no customer: a product back in stock) to
// the event rules that wait for it, once for each customer who bought the
// product; the rules' conditions narrow it further (e.g. to customers whose
// profile lists it among their favourites).
func (e *Engine) fanOut(ctx context.Context, ev Event) error {
	products := rule.Values(rule.Doc{"event": ev.Doc}, "event.product_back_in_stock.product.product_id")
	if len(products) == 0 {
		return nil
	}
	rules, err := e.rules.Rules(ctx, ev.Tenant)
	if err != nil {
		return err
	}
	var waiting []rule.Rule
	doc := rule.Doc{"event": ev.Doc}
	for _, r := range rules {
		if r.Kind == rule.OnEvent && matches(*r.Start, ev.Type, doc) && e.fresh(r, ev) {
			waiting = append(waiting, r)
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	buyers, err := e.state.Buyers(ctx, ev.Tenant, products[0])
	if err != nil {
		return err
	}
	for _, c := range buyers {
		// Each customer's copy is a cause of its own (its own task, its
		// own firing record).
		personal := ev
		personal.Customer = c
		personal.ID = ev.ID + ":" + c.Key()
		var candidates []Firing
		for _, r := range waiting {
			candidates = append(candidates, e.firing(r, personal, personal.ID, ev.OccurredAt))
		}
		if err := e.fireAll(ctx, candidates, ""); err != nil { // the cause is no customer's event
			return err
		}
	}
	return nil
}

// fresh reports whether an event is recent enough to act on (MaxCauseAge),
// or the rule acts on old causes too.
func (e *Engine) fresh(r rule.Rule, ev Event) bool {
	return r.Controls.FireOverdue || e.now().Sub(ev.OccurredAt) <= MaxCauseAge
}

func segmentOf(ev Event) string {
	if s, ok := ev.Doc["segment_entered"].(map[string]any); ok {
		v, _ := s["segment"].(string)
		return v
	}
	return ""
}

func matches(m rule.EventMatch, typ string, doc rule.Doc) bool {
	return m.Type == typ && rule.AllHold(m.Conditions, doc)
}

// waitOrStop starts a wait on a start event and stops it on a stop event
// correlated with the start (the same order, that product).
func (e *Engine) waitOrStop(ctx context.Context, r rule.Rule, ev Event, key string, doc rule.Doc, stops []rule.EventMatch, wait time.Duration) error {
	if matches(*r.Start, ev.Type, doc) {
		corr, ok := rule.StartKey(r.Correlate, doc)
		if !ok {
			return nil // nothing to correlate a stop with: the rule's path names nothing here
		}
		tk := timerKey(r.ID, key, "k"+corr)
		at := ev.OccurredAt.Add(wait)
		if !at.After(e.now()) && !r.Controls.FireOverdue {
			return nil // its moment passed before the event reached us (imported history)
		}
		return e.schedule(ctx, Timer{Key: tk, Tenant: ev.Tenant, RuleID: r.ID, Version: r.Version, Customer: ev.Customer, Cause: ev, At: at})
	}
	for _, s := range stops {
		if !matches(s, ev.Type, doc) {
			continue
		}
		keys, err := e.customerKeys(ctx, ev, ev.ID)
		if err != nil {
			return err
		}
		for _, corr := range rule.OtherKeys(r.Correlate, doc) {
			for _, ck := range keys {
				tk := timerKey(r.ID, ck, "k"+corr)
				if err := e.state.Stop(ctx, ev.Tenant, tk, ev.OccurredAt); err != nil {
					return err
				}
				if err := e.timers.Cancel(ctx, ev.Tenant, tk); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stoppedElsewhere reports whether a stop filed under another identity of
// the timer's customer ended its wait. A stop reaches the waits of every
// identity the profile service knew when the stop arrived; when a visitor
// who viewed a product anonymously identified and bought it before the
// profile service had joined the two, the stop was filed under the
// identified customer only. By the time the wait ends the profile knows
// them as one, so the wait's own correlation is looked up under each of
// the customer's identities.
func (e *Engine) stoppedElsewhere(ctx context.Context, t Timer) (bool, error) {
	own := t.Customer.Key()
	prefix := t.RuleID + "." + own + "."
	if !strings.HasPrefix(t.Key, prefix) {
		return false, nil
	}
	corr := strings.TrimPrefix(t.Key, prefix)
	keys, err := e.customerKeys(ctx, Event{Tenant: t.Tenant, Customer: t.Customer}, "")
	if err != nil {
		return false, err
	}
	for _, ck := range keys {
		if ck == own {
			continue // checked already
		}
		stopped, err := e.state.Stopped(ctx, t.Tenant, t.RuleID+"."+ck+"."+corr)
		if err != nil {
			return false, err
		}
		if !stopped.IsZero() && !stopped.Before(t.Cause.OccurredAt) {
			return true, nil
		}
	}
	return false, nil
}

// customerKeys are the keys a customer's waits may be filed under: the
// event's own, and those of every identity the profile service joined into
// the customer's profile — a wait started by an anonymous visit ends when
// the identified customer buys.
func (e *Engine) customerKeys(ctx context.Context, ev Event, after string) ([]string, error) {
	keys := []string{ev.Customer.Key()}
	profile, err := e.profiles.Profile(ctx, ev.Tenant, ev.Customer, after)
	if err != nil {
		return nil, err
	}
	ids, _ := profile["identities"].(map[string]any)
	for field, build := range map[string]func(string) Customer{
		"customer_ids":  func(v string) Customer { return Customer{CustomerID: v} },
		"emails":        func(v string) Customer { return Customer{Email: v} },
		"phones":        func(v string) Customer { return Customer{Phone: v} },
		"anonymous_ids": func(v string) Customer { return Customer{AnonymousID: v} },
	} {
		list, _ := ids[field].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				if k := build(s).Key(); !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys, nil
}

// schedule sets a wait only if its cause is the latest start of that wait:
// an older event arriving late (a retry, a re-sent history) must not move a
// wait back in time.
func (e *Engine) schedule(ctx context.Context, t Timer) error {
	latest, err := e.state.Advance(ctx, t.Tenant, t.Key, t.Cause.OccurredAt)
	if err != nil || !latest {
		return err
	}
	return e.timers.Schedule(ctx, t)
}

// exit cancels every pending wait of r for the customer and remembers the
// exit, so a firing caused before it is held back.
func (e *Engine) exit(ctx context.Context, ev Event, key string, r rule.Rule) error {
	prefix := timerKey(r.ID, key, "")
	if err := e.state.Stop(ctx, ev.Tenant, prefix, ev.OccurredAt); err != nil {
		return err
	}
	return e.timers.Cancel(ctx, ev.Tenant, prefix)
}

// timerKey is "<rule>.<customer>.<correlation>"; a prefix of it (empty
// correlation) names all of a rule's waits for a customer.
func timerKey(ruleID, customerKey, corr string) string {
	k := ruleID + "." + customerKey + "."
	if corr == "" {
		return k
	}
	sum := sha256.Sum256([]byte(corr))
	return k + hex.EncodeToString(sum[:8])
}

// momentOf is what an event rule's firing answers: the event — except
// that the revisions of one survey answer (a comment added, a score
// corrected, each a survey.responded of its own) are one moment, so a rule
// acts on an answer once: one follow-up task, not one per revision. A
// revision that first meets the rule's conditions still fires.
func momentOf(ev Event, doc rule.Doc) string {
	// Only the survey service's own answers: their invitation ids are made
	// per customer. An imported answer's invitation_id is whatever the
	// other tool put there (one campaign id for everyone, say).
	if ev.Type == "survey.responded" && ev.Source == "survey" {
		if inv := rule.Values(doc, "event.survey_responded.invitation_id"); len(inv) == 1 && inv[0] != "" {
			return "answer:" + inv[0]
		}
	}
	return ev.ID
}

func (e *Engine) firing(r rule.Rule, cause Event, causeID string, at time.Time) Firing {
	// The version is not part of the id: editing a rule must not let a late
	// duplicate of its cause act again.
	id := r.ID + ":" + causeID
	return Firing{ID: id, Tenant: cause.Tenant, Rule: r, Customer: cause.Customer, Cause: cause, At: at}
}

// HandleTimer fires the rule whose wait ended, unless the wait was stopped
// or exited after it was set.
func (e *Engine) HandleTimer(ctx context.Context, t Timer) error {
	for _, k := range []string{t.Key, timerKey(t.RuleID, t.Customer.Key(), "")} {
		stopped, err := e.state.Stopped(ctx, t.Tenant, k)
		if err != nil {
			return err
		}
		if !stopped.IsZero() && !stopped.Before(t.Cause.OccurredAt) {
			return nil
		}
	}
	latest, err := e.state.Latest(ctx, t.Tenant, t.Key)
	if err != nil {
		return err
	}
	if latest.After(t.Cause.OccurredAt) {
		return nil // a later start replaced this wait
	}
	r, err := e.rules.Rule(ctx, t.Tenant, t.RuleID, t.Version)
	if err != nil {
		return err
	}
	current, err := e.rules.Rule(ctx, t.Tenant, t.RuleID, 0)
	if err != nil {
		return err
	}
	if !r.Enabled || !current.Enabled {
		return nil // disabled since the wait began
	}
	if r.Kind == rule.AfterDelay || r.Kind == rule.Absence {
		if stopped, err := e.stoppedElsewhere(ctx, t); err != nil || stopped {
			return err
		}
	}
	f := e.firing(r, t.Cause, "timer:"+t.Key+":"+t.Cause.ID, t.At)
	// The wait's cause was folded long ago (and may have left the
	// profile's recent events): no need to wait for it.
	return e.fireAll(ctx, []Firing{f}, "")
}

// fireAll checks conditions and controls of candidate firings, highest
// priority first, and acts on each once.
func (e *Engine) fireAll(ctx context.Context, candidates []Firing, after string) error {
	sort.SliceStable(candidates, func(i, j int) bool {
		return candidates[i].Rule.Controls.Priority > candidates[j].Rule.Controls.Priority
	})
	var profile map[string]any
	loaded := false
	for _, f := range candidates {
		doc := rule.Doc{"event": f.Cause.Doc}
		if needsProfile(f.Rule) {
			if !loaded {
				var err error
				if profile, err = e.profiles.Profile(ctx, f.Tenant, f.Customer, after); err != nil {
					return err
				}
				loaded = true
			}
			doc["profile"] = profile
		}
		if !rule.AllHold(f.Rule.Conditions, doc) {
			continue
		}
		if err := e.fire(ctx, f, profile); err != nil {
			return err
		}
	}
	return nil
}

func needsProfile(r rule.Rule) bool {
	for _, c := range r.Conditions {
		if strings.HasPrefix(c.Path, "profile.") || strings.HasPrefix(c.ValuePath, "profile.") {
			return true
		}
	}
	for _, a := range r.Actions {
		if explicitChannel(a) != "" {
			return true // consent to it is checked on the profile
		}
	}
	return false
}

// explicitChannel is the channel a marketing message or survey action names
// itself ("" for none, "auto", or a transactional one): the only channels
// the engine checks consent for. The notification service checks consent
// for the channel it picks.
func explicitChannel(a rule.Action) string {
	ch := ""
	switch {
	case a.Notify != nil && !a.Notify.Transactional:
		ch = a.Notify.Channel
	case a.Survey != nil && !a.Survey.Transactional:
		ch = a.Survey.Channel
	}
	if ch == "auto" {
		return ""
	}
	return ch
}

// fire acts on a firing exactly once. The decision (act or hold back, and
// why) is recorded before anything is done; a retry after a failure finds
// it and repeats the (idempotent) actions; a duplicate finds it done.
//
// A firing is decided optimistically: the controls run (taking its cap
// slots, which are recorded by firing id, so a firing that took them
// before takes them again without counting twice) and the decision is
// created; only when one exists already — a duplicate, a retry, a
// concurrent delivery — is it read and followed, and slots this attempt
// took for a firing decided to be held back are given back. That costs a
// duplicate a little more and saves every new firing a read.
func (e *Engine) fire(ctx context.Context, f Firing, profile map[string]any) error {
	var d Decision
	var err error
	if f.EarlierID != "" {
		// Decided by an earlier version under the event's id: that firing
		// goes on under its own id — a late duplicate finds it done, and one
		// that stopped half-way finishes its actions.
		_, known, err := e.state.Decided(ctx, f.Tenant, f.EarlierID)
		if err != nil {
			return err
		}
		if known {
			f.ID = f.EarlierID
		}
	}
	if d.Suppressed, d.Reason, err = e.controls(ctx, f, profile); err != nil {
		return err
	}
	fresh, err := e.state.Decide(ctx, f.Tenant, f.ID, d)
	if err != nil {
		return err
	}
	took := !d.Suppressed
	if !fresh {
		var known bool
		if d, known, err = e.state.Decided(ctx, f.Tenant, f.ID); err != nil {
			return err
		}
		if !known {
			return fmt.Errorf("trigger: firing %s was decided but its decision is gone", f.ID)
		}
		if took && d.Suppressed {
			if err := e.release(ctx, f); err != nil {
				return err
			}
		}
		if d.Done {
			return nil // a duplicate: this firing already acted
		}
	}
	if !fresh && !d.Suppressed && !took {
		// A retry of a firing decided to act, which this attempt's controls
		// would hold back (a cap filled since): its slots are recorded by
		// its id, so taking them again counts once.
		if _, _, err := e.reserve(ctx, f, true); err != nil {
			return err
		}
	}
	f.Suppressed, f.Reason = d.Suppressed, d.Reason
	if err := e.actor.Act(ctx, f); err != nil {
		return err
	}
	d.Done = true
	return e.state.Finish(ctx, f.Tenant, f.ID, d)
}

// controls decides whether a firing is held back, and why. A firing that
// goes ahead has taken its slots in the rule's and the global cap.
func (e *Engine) controls(ctx context.Context, f Firing, profile map[string]any) (bool, string, error) {
	if len(f.Rule.Controls.Exit) > 0 {
		exited, err := e.state.Stopped(ctx, f.Tenant, timerKey(f.Rule.ID, f.Customer.Key(), ""))
		if err != nil {
			return false, "", err
		}
		if !exited.IsZero() && !exited.Before(f.Cause.OccurredAt) {
			return true, "exit", nil
		}
	}
	if !consents(f.Rule, profile) {
		return true, "consent", nil
	}
	ok, reason, err := e.reserve(ctx, f, false)
	if err != nil || !ok {
		return !ok, reason, err
	}
	return false, "", nil
}

// reserve takes the firing's slot in its rule's cap and the global cap
// (unless retry: the slots were taken when the firing was decided).
func (e *Engine) reserve(ctx context.Context, f Firing, retry bool) (bool, string, error) {
	c := f.Rule.Controls
	now := e.now()
	var mine, all Limit
	reason := "cap"
	switch {
	case retry:
	case c.CapPerCustomer > 0:
		mine = Limit{Count: c.CapPerCustomer, Since: now.Add(-time.Duration(c.CapWindow))}
	case !c.Reentry:
		mine, reason = Limit{Count: 1}, "reentry"
	}
	if !retry && e.globalCap.Count > 0 && !c.ExemptFromGlobalCap {
		all = Limit{Count: e.globalCap.Count, Since: now.Add(-e.globalCap.Window)}
	}
	ok, refused, err := e.state.Reserve(ctx, f.Tenant, f.Customer.Key(), f.Rule.ID, f.ID, now, mine, all)
	switch {
	case err != nil:
		return false, "", err
	case ok:
		return true, "", nil
	case refused == "global":
		return false, "global_cap", nil
	}
	return false, reason, nil
}

// release gives back the slots of a firing that will not act.
func (e *Engine) release(ctx context.Context, f Firing) error {
	return e.state.Release(ctx, f.Tenant, f.Customer.Key(), f.ID)
}

// consents reports whether the customer allows every explicit channel the
// rule's messages use; "auto" lets the notification service pick one they
// allow.
func consents(r rule.Rule, profile map[string]any) bool {
	granted := map[string]bool{}
	traits, _ := profile["traits"].(map[string]any)
	list, _ := traits["consents"].([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		ch, _ := m["channel"].(string)
		g, _ := m["granted"].(bool)
		granted[strings.ToLower(strings.TrimPrefix(ch, "CHANNEL_"))] = g
	}
	for _, a := range r.Actions {
		ch := explicitChannel(a)
		if ch == "" {
			continue
		}
		if g, known := granted[ch]; known && !g {
			return false
		}
	}
	return true
}
