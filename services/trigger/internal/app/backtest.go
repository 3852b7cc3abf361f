package app

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey/activity"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// History reads a tenant's stored journey events back.
type History interface {
	// Events calls yield with each event of the tenant that occurred at or
	// after start and before end, in the order they were stored, until
	// yield returns an error (which Events returns).
	Events(ctx context.Context, tenant string, start, end time.Time, yield func(Event) error) error
}

// Limits of a backtest's sample.
const (
	DefaultBacktestSample = 1000
	MaxBacktestSample     = 10000
)

// BacktestFiring is one firing a backtest found.
type BacktestFiring struct {
	Customer     Customer
	At           time.Time
	CauseEventID string
	Suppressed   bool
	// Reason says why it was held back: "cap", "exit" or "reentry".
	Reason string
}

// BacktestReport is what a rule would have done over a stretch of history.
type BacktestReport struct {
	// Customers it would have acted for (distinct; suppressed firings do
	// not count).
	Customers int64
	// Firings it would have acted on.
	Firings int64
	// Suppressed firings: held back by the cap, an exit event or re-entry.
	Suppressed int64
	// NeedsProfile counts firings whose event conditions held but whose
	// conditions on the profile ("profile.…") could not be evaluated: the
	// profile as it was then is not kept. They are in neither Firings nor
	// Suppressed, nor in the sample, and their controls are not applied;
	// the rule would have fired for at most this many more.
	NeedsProfile int64
	// EventsReplayed is how many of the tenant's events were replayed.
	EventsReplayed int64
	// Sample is the first firings in time order, suppressed ones included,
	// up to the requested number.
	Sample []BacktestFiring
}

// Backtester replays stored journey history through one rule without
// acting.
type Backtester struct {
	history History
	now     func() time.Time
}

// NewBacktester checks its dependencies.
func NewBacktester(h History, now func() time.Time) (*Backtester, error) {
	if h == nil || now == nil {
		return nil, errors.New("app: history and clock are required")
	}
	return &Backtester{history: h, now: now}, nil
}

// Backtest replays the tenant's events that occurred in [start, end) (end
// is now when zero) through r, stored or draft, enabled or not, and
// reports whom it would have fired for and when, acting on nothing. r is
// validated as on create; a draft without an id is called "draft".
// maxFirings bounds the sample: DefaultBacktestSample when 0,
// MaxBacktestSample at most.
//
// The replay runs on event time. Event and segment-entry rules fire at
// their event. Delay, absence and inactivity rules start waits on an
// in-memory timer queue, which fire when the replay's clock (the latest
// event time seen) passes their moment, or before end; stop, absent and
// exit events cancel them, correlated as the engine does
// (rule.StartKey/OtherKeys). Events are replayed as if received when they
// occurred, so fire_overdue plays no part; an event stored out of time
// order is replayed where it was stored. The rule's cap per customer,
// re-entry and exit controls are applied and count as suppressed.
//
// What the past cannot tell is left out: conditions on the profile (see
// BacktestReport.NeedsProfile), consent to a channel (read from the
// profile), and the global cap across rules (it depends on the other
// rules' firings). So a backtest may report firings the engine would have
// held back for consent or the global cap. Waits started by events before
// start are not seen.
func (b *Backtester) Backtest(ctx context.Context, tenant string, r rule.Rule, start, end time.Time, maxFirings int) (BacktestReport, error) {
	if err := checkTenant(tenant); err != nil {
		return BacktestReport{}, err
	}
	if start.IsZero() {
		return BacktestReport{}, &ArgError{"start_time", "is required"}
	}
	if end.IsZero() {
		end = b.now()
	}
	if !end.After(start) {
		return BacktestReport{}, &ArgError{"end_time", "must be after start_time"}
	}
	switch {
	case maxFirings < 0:
		return BacktestReport{}, &ArgError{"max_firings", "must not be negative"}
	case maxFirings == 0:
		maxFirings = DefaultBacktestSample
	}
	maxFirings = min(maxFirings, MaxBacktestSample)
	if r.ID == "" {
		r.ID = "draft"
	}
	r = r.WithDefaults()
	if err := r.Validate().Err(); err != nil {
		return BacktestReport{}, err
	}

	s := newSimulation(r, maxFirings)
	err := b.history.Events(ctx, tenant, start, end, func(ev Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.event(ev)
		return nil
	})
	if err != nil {
		return BacktestReport{}, err
	}
	s.runTimers(end, false)
	return s.finish(), nil
}

// simulation is one rule's replay: its pending waits, the stops, exits and
// firings its controls read, and what it found.
type simulation struct {
	rule rule.Rule
	// eventConds are the rule's conditions that read the event alone;
	// needsProfile says some read the profile.
	eventConds   []rule.Condition
	needsProfile bool

	clock   time.Time
	queue   timerQueue
	seq     int
	pending map[string]map[string]*simTimer // customer key -> wait key -> timer
	stops   map[string]time.Time            // customer key + "\x00" + wait key -> latest stop
	exits   map[string]time.Time            // customer key -> latest exit
	fired   map[string][]time.Time          // customer key -> unsuppressed firings

	report    BacktestReport
	sampleCap int
}

func newSimulation(r rule.Rule, sampleCap int) *simulation {
	s := &simulation{rule: r, sampleCap: sampleCap,
		pending: map[string]map[string]*simTimer{}, stops: map[string]time.Time{},
		exits: map[string]time.Time{}, fired: map[string][]time.Time{}}
	for _, c := range r.Conditions {
		if strings.HasPrefix(c.Path, "profile.") || strings.HasPrefix(c.ValuePath, "profile.") {
			s.needsProfile = true
		} else {
			s.eventConds = append(s.eventConds, c)
		}
	}
	return s
}

// simTimer is a pending wait.
type simTimer struct {
	customer string // customer key
	key      string // wait key within the customer
	at       time.Time
	cause    Event
	seq      int // FIFO among timers of the same moment
	index    int // in the queue; -1 once out of it
}

// timerQueue is a min-heap of timers by moment.
type timerQueue []*simTimer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	return cmp.Or(q[i].at.Compare(q[j].at), cmp.Compare(q[i].seq, q[j].seq)) < 0
}
func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *timerQueue) Push(x any) {
	t := x.(*simTimer)
	t.index = len(*q)
	*q = append(*q, t)
}
func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*q = old[:len(old)-1]
	return t
}

// event replays one event: first the timers its moment passes, then the
// rule's exits, firings, waits and stops, in the engine's order.
func (s *simulation) event(ev Event) {
	s.report.EventsReplayed++
	if ev.OccurredAt.After(s.clock) {
		s.clock = ev.OccurredAt
	}
	s.runTimers(s.clock, true)

	key := ev.Customer.Key()
	if key == "" {
		return // catalog events have no customer to act for
	}
	r := s.rule
	doc := rule.Doc{"event": ev.Doc}
	for _, x := range r.Controls.Exit {
		if s.matches(x, ev, doc) {
			if last, ok := s.exits[key]; !ok || ev.OccurredAt.After(last) {
				s.exits[key] = ev.OccurredAt
			}
			for _, t := range s.pending[key] {
				s.cancel(t)
			}
		}
	}
	switch r.Kind {
	case rule.OnEvent:
		if s.matches(*r.Start, ev, doc) {
			s.fire(key, ev, ev.OccurredAt)
		}
	case rule.SegmentEntry:
		if ev.Type == "segment.entered" && segmentEntered(ev) == r.Segment {
			s.fire(key, ev, ev.OccurredAt)
		}
	case rule.AfterDelay:
		s.waitOrStop(key, ev, doc, r.Stop, r.Delay.Std())
	case rule.Absence:
		s.waitOrStop(key, ev, doc, []rule.EventMatch{*r.Absent}, r.Within.Std())
	case rule.Inactivity:
		if activity.Is(ev.Type, ev.Source) {
			s.schedule(key, "idle", ev, ev.OccurredAt.Add(r.Period.Std()))
		}
	}
}

// matches reports whether ev is of m's type and holds m's conditions.
func (s *simulation) matches(m rule.EventMatch, ev Event, doc rule.Doc) bool {
	return m.Type == ev.Type && rule.AllHold(m.Conditions, doc)
}

// segmentEntered is the segment a segment.entered event names.
func segmentEntered(ev Event) string {
	body, _ := ev.Doc["segment_entered"].(map[string]any)
	seg, _ := body["segment"].(string)
	return seg
}

// waitOrStop starts a wait on a start event, and ends the waits a stop (or
// absent) event is correlated with.
func (s *simulation) waitOrStop(key string, ev Event, doc rule.Doc, stops []rule.EventMatch, wait time.Duration) {
	r := s.rule
	if s.matches(*r.Start, ev, doc) {
		corr, ok := rule.StartKey(r.Correlate, doc)
		if !ok {
			return // nothing to correlate a stop with, as in the engine
		}
		if stopped, ok := s.stops[key+"\x00"+corr]; ok && !stopped.Before(ev.OccurredAt) {
			return // stopped by an event stored before this older start
		}
		s.schedule(key, corr, ev, ev.OccurredAt.Add(wait))
		return
	}
	for _, m := range stops {
		if !s.matches(m, ev, doc) {
			continue
		}
		for _, corr := range rule.OtherKeys(r.Correlate, doc) {
			sk := key + "\x00" + corr
			if last, ok := s.stops[sk]; !ok || ev.OccurredAt.After(last) {
				s.stops[sk] = ev.OccurredAt
			}
			if t := s.pending[key][corr]; t != nil && !ev.OccurredAt.Before(t.cause.OccurredAt) {
				s.cancel(t)
			}
		}
	}
}

// schedule sets a wait, replacing the customer's pending one with the same
// key, as a new timer on the same subject replaces the old.
func (s *simulation) schedule(customer, key string, cause Event, at time.Time) {
	if old := s.pending[customer][key]; old != nil {
		s.cancel(old)
	}
	s.seq++
	t := &simTimer{customer: customer, key: key, at: at, cause: cause, seq: s.seq}
	if s.pending[customer] == nil {
		s.pending[customer] = map[string]*simTimer{}
	}
	s.pending[customer][key] = t
	heap.Push(&s.queue, t)
}

func (s *simulation) cancel(t *simTimer) {
	if t.index >= 0 {
		heap.Remove(&s.queue, t.index)
	}
	s.forget(t)
}

func (s *simulation) forget(t *simTimer) {
	delete(s.pending[t.customer], t.key)
	if len(s.pending[t.customer]) == 0 {
		delete(s.pending, t.customer)
	}
}

// runTimers fires the timers due by until: at or before it when inclusive
// (the clock has reached until), before it otherwise (the end of the
// replay, which is excluded).
func (s *simulation) runTimers(until time.Time, inclusive bool) {
	for s.queue.Len() > 0 {
		t := s.queue[0]
		if t.at.After(until) || (!inclusive && !t.at.Before(until)) {
			return
		}
		heap.Pop(&s.queue)
		s.forget(t)
		// As the engine's HandleTimer: a wait stopped or exited at or
		// after its start ends without a firing (here, when an exit
		// event also started it, as any activity starts an inactivity
		// wait).
		if s.endedAfter(s.stops[t.customer+"\x00"+t.key], t.cause) || s.endedAfter(s.exits[t.customer], t.cause) {
			continue
		}
		s.fire(t.customer, t.cause, t.at)
	}
}

// endedAfter reports whether a stop or exit at ended (zero: none) came at
// or after cause.
func (s *simulation) endedAfter(ended time.Time, cause Event) bool {
	return !ended.IsZero() && !ended.Before(cause.OccurredAt)
}

// fire checks the rule's conditions and controls for a firing caused by
// cause at at, and records it.
func (s *simulation) fire(customer string, cause Event, at time.Time) {
	if !rule.AllHold(s.eventConds, rule.Doc{"event": cause.Doc}) {
		return
	}
	if s.needsProfile {
		s.report.NeedsProfile++
		return
	}
	reason := s.controls(customer, cause, at)
	f := BacktestFiring{Customer: cause.Customer, At: at, CauseEventID: cause.ID, Suppressed: reason != "", Reason: reason}
	if f.Suppressed {
		s.report.Suppressed++
	} else {
		if len(s.fired[customer]) == 0 {
			s.report.Customers++
		}
		s.fired[customer] = append(s.fired[customer], at)
		s.report.Firings++
	}
	s.sample(f)
}

// controls is the engine's decision on a firing, less what needs the
// profile (consent) or other rules (the global cap): the reason it is held
// back, or "".
func (s *simulation) controls(customer string, cause Event, at time.Time) string {
	c := s.rule.Controls
	if exited, ok := s.exits[customer]; ok && len(c.Exit) > 0 && !exited.Before(cause.OccurredAt) {
		return "exit"
	}
	mine := s.fired[customer]
	if len(mine) > 0 && !c.Reentry && c.CapPerCustomer == 0 {
		return "reentry"
	}
	if c.CapPerCustomer > 0 {
		since, n := at.Add(-c.CapWindow.Std()), 0
		for _, t := range mine {
			if !t.Before(since) {
				n++
			}
		}
		if n >= c.CapPerCustomer {
			return "cap"
		}
	}
	return ""
}

// sample keeps the earliest firings, at most sampleCap of them; firings
// arrive mostly in time order, so the slice is trimmed only when it has
// grown to twice that.
func (s *simulation) sample(f BacktestFiring) {
	s.report.Sample = append(s.report.Sample, f)
	if len(s.report.Sample) >= 2*s.sampleCap {
		s.trimSample()
	}
}

func (s *simulation) trimSample() {
	slices.SortStableFunc(s.report.Sample, func(a, b BacktestFiring) int { return a.At.Compare(b.At) })
	if len(s.report.Sample) > s.sampleCap {
		clear(s.report.Sample[s.sampleCap:])
		s.report.Sample = s.report.Sample[:s.sampleCap]
	}
}

func (s *simulation) finish() BacktestReport {
	s.trimSample()
	return s.report
}
