// Package kpi computes the commerce and support KPIs of a shop from its
// customer profiles: per reporting period, for the whole range, and for
// cohorts of customers by the period of their first order. It is pure: the
// app layer streams profiles in and the gRPC port converts the results into
// cx.profile.v1 messages.
//
// Money stays exact: amounts are decimal strings summed with the profile
// package's helpers, and amounts of different currencies are never added.
// Cancelled orders count neither as orders nor as revenue; refunds reduce
// the revenue of the order they refund, in the order's period. Orders are
// attributed to periods by when they were placed, tickets by when they were
// opened, resolved or reopened.
package kpi

import (
	"slices"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// Filter narrows a report to some customers, and to their orders or tickets
// through one touchpoint. Both apply together: the segment is judged on the
// whole profile, the touchpoint on each order or ticket.
type Filter struct {
	// Segment keeps only the customers in this segment at the time of the
	// report, as Profile.Segments names them ("vip", "repeat", "at_risk",
	// "promoter", ...); all when empty.
	Segment string
	// Touchpoint keeps only the orders placed and the tickets opened
	// through this touchpoint ("web", "app", "email", "chat", ...), matched
	// exactly; all when empty. Orders and tickets recorded without a
	// touchpoint are in no touchpoint's report.
	//
	// A commerce report then reads as if each customer had placed only
	// their orders through the touchpoint: a customer with none there is
	// not a customer of the report at all (not counted in any period,
	// cohort, or at risk or churned), and "new", "repeat", CLV and the
	// cohort are all by the orders through the touchpoint — new is a
	// customer's first order there, wherever they bought before. Activity
	// (retention, at risk, churned) is still the customer's activity
	// through any touchpoint: the profile does not record where each event
	// came from.
	Touchpoint string
}

func (f Filter) keeps(p *profile.Profile, now time.Time, rules profile.Rules) bool {
	return f.Segment == "" || slices.Contains(p.Segments(now, rules), f.Segment)
}

// keepsOrder reports whether o is in the report's touchpoint.
func (f Filter) keepsOrder(o *profile.Order) bool {
	return f.Touchpoint == "" || o.Touchpoint == f.Touchpoint
}

// keepsTicket reports whether t is in the report's touchpoint.
func (f Filter) keepsTicket(t *profile.Ticket) bool {
	return f.Touchpoint == "" || t.Touchpoint == f.Touchpoint
}

// lastActivity is the time of the customer's latest activity at or before
// asOf; zero when there was none. Activity is EventRef.Activity, the rule
// the profile uses for LastActivity, so cohort retention and at-risk counts
// agree with Profile.Stage.
func lastActivity(p *profile.Profile, asOf time.Time) time.Time {
	if !p.LastActivity.After(asOf) {
		return p.LastActivity
	}
	var last time.Time
	for _, e := range p.Applied {
		if e.Activity() && !e.At.After(asOf) && e.At.After(last) {
			last = e.At
		}
	}
	return last
}

// rate is part / whole, and 0 when whole is 0.
func rate(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// rank is the nearest-rank percentile position in a sorted list of n
// values: the smallest value with at least pct percent of the values at or
// below it. It picks a value that occurred, never an interpolation.
func rank(pct, n int) int {
	return max((pct*n+99)/100-1, 0)
}
