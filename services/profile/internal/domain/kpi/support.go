package kpi

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// SupportKPIs is a support report: what GetSupportKPIsResponse carries.
type SupportKPIs struct {
	// Periods holds one row per period, oldest first.
	Periods []SupportPeriod
	// Total is the whole range as one period.
	Total SupportPeriod
}

// SupportPeriod is the ticket figures of one period.
//
// The profile keeps a ticket's latest resolution only, so a ticket counts
// as resolved in the period of its last resolution — even when it has been
// reopened since and is open now.
type SupportPeriod struct {
	Bounds period.Bounds
	// Opened counts the tickets opened in the period.
	Opened int64
	// Resolved counts the tickets whose last resolution fell in the period.
	Resolved int64
	// Reopened counts the tickets reopened in the period, each once however
	// often.
	Reopened int64
	// ReopenRate is the share of the Resolved tickets that were ever
	// reopened: a resolution that did not hold; 0 when none were resolved.
	ReopenRate float64
	// ResolutionP50 and ResolutionP90 are the nearest-rank median and 90th
	// percentile of the time from opening to last resolution of the
	// Resolved tickets (those whose opening is known).
	ResolutionP50, ResolutionP90 time.Duration
	// FirstContactResolved counts the Resolved tickets whose resolution the
	// shop marked first-contact and that were never reopened.
	FirstContactResolved int64
	// FirstContactResolutionRate is FirstContactResolved / Resolved; 0 when
	// none were resolved.
	FirstContactResolutionRate float64
	// ByTopic is the volume per topic (the ticket's latest), most opened
	// first, then by topic.
	ByTopic []TopicVolume
}

// TopicVolume is the ticket volume of one topic in a period.
type TopicVolume struct {
	// Topic such as "delivery"; empty for tickets without one.
	Topic                      string
	Opened, Resolved, Reopened int64
}

// Support reports on the tickets of profiles in the periods of spec, which
// must be valid. filter keeps customers by their segments at now, as rules
// set them, and tickets by the touchpoint they were opened through.
func Support(profiles iter.Seq[*profile.Profile], spec period.Spec, now time.Time, rules profile.Rules, filter Filter) SupportKPIs {
	bounds := spec.Periods()
	rows := make([]supportRow, len(bounds)+1) // the last one is the total
	n := len(bounds)
	for p := range profiles {
		if p == nil || !filter.keeps(p, now, rules) {
			continue
		}
		for _, t := range p.Tickets {
			if !filter.keepsTicket(t) {
				continue
			}
			topic := t.Topic.V
			if i := locate(bounds, t.OpenedAt); i >= 0 {
				for _, r := range []*supportRow{&rows[i], &rows[n]} {
					r.opened++
					r.topic(topic).Opened++
				}
			}
			if i := locate(bounds, t.ResolvedAt); i >= 0 {
				for _, r := range []*supportRow{&rows[i], &rows[n]} {
					r.resolve(t)
				}
			}
			reopened := map[int]bool{}
			for _, at := range t.Reopens {
				if i := period.Locate(bounds, at); i >= 0 {
					reopened[i], reopened[n] = true, true
				}
			}
			for i := range reopened {
				rows[i].reopened++
				rows[i].topic(topic).Reopened++
			}
		}
	}
	out := SupportKPIs{Periods: make([]SupportPeriod, n)}
	for i, b := range bounds {
		out.Periods[i] = rows[i].result(b)
	}
	out.Total = rows[n].result(spec.Total())
	return out
}

// locate is period.Locate, and -1 for a time the ticket never had.
func locate(bounds []period.Bounds, t time.Time) int {
	if t.IsZero() {
		return -1
	}
	return period.Locate(bounds, t)
}

type supportRow struct {
	opened, resolved, reopened, reopenedOfResolved, firstContact int64
	durations                                                    []time.Duration
	topics                                                       map[string]*TopicVolume
}

func (r *supportRow) topic(name string) *TopicVolume {
	if r.topics == nil {
		r.topics = map[string]*TopicVolume{}
	}
	v := r.topics[name]
	if v == nil {
		v = &TopicVolume{Topic: name}
		r.topics[name] = v
	}
	return v
}

func (r *supportRow) resolve(t *profile.Ticket) {
	r.resolved++
	r.topic(t.Topic.V).Resolved++
	switch {
	case len(t.Reopens) > 0:
		r.reopenedOfResolved++
	case t.FirstContact.V:
		r.firstContact++
	}
	if !t.OpenedAt.IsZero() && !t.ResolvedAt.Before(t.OpenedAt) {
		r.durations = append(r.durations, t.ResolvedAt.Sub(t.OpenedAt))
	}
}

func (r *supportRow) result(b period.Bounds) SupportPeriod {
	out := SupportPeriod{
		Bounds:                     b,
		Opened:                     r.opened,
		Resolved:                   r.resolved,
		Reopened:                   r.reopened,
		ReopenRate:                 rate(r.reopenedOfResolved, r.resolved),
		FirstContactResolved:       r.firstContact,
		FirstContactResolutionRate: rate(r.firstContact, r.resolved),
	}
	if len(r.durations) > 0 {
		slices.Sort(r.durations)
		out.ResolutionP50 = r.durations[rank(50, len(r.durations))]
		out.ResolutionP90 = r.durations[rank(90, len(r.durations))]
	}
	for _, name := range slices.Sorted(maps.Keys(r.topics)) {
		out.ByTopic = append(out.ByTopic, *r.topics[name])
	}
	slices.SortStableFunc(out.ByTopic, func(a, b TopicVolume) int { return cmp.Compare(b.Opened, a.Opened) })
	return out
}
