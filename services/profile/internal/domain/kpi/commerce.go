package kpi

import (
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// CommerceKPIs is a commerce report: what GetCommerceKPIsResponse carries.
type CommerceKPIs struct {
	// Periods holds one row per period, oldest first.
	Periods []CommercePeriod
	// Total is the whole range as one period.
	Total CommercePeriod
	// Cohorts follows the customers by the period of their first order,
	// one cohort per cohort period of the range, oldest first.
	Cohorts []Cohort
	// CustomersAtRisk and CustomersChurned count the customers (with at
	// least one order) at risk and churned at the end of the range, or now
	// when the range ends later.
	CustomersAtRisk, CustomersChurned int64
	// AtRiskAfter and ChurnedAfter are the inactivity thresholds used.
	AtRiskAfter, ChurnedAfter time.Duration
}

// CommercePeriod is the commerce figures of one period.
type CommercePeriod struct {
	Bounds period.Bounds
	// Customers placed at least one order in the period.
	Customers int64
	// NewCustomers are those of Customers whose first order ever fell in
	// the period.
	NewCustomers int64
	// RepeatCustomers are those of Customers who placed at least two orders
	// in the period.
	RepeatCustomers int64
	// RepeatPurchaseRate is RepeatCustomers / Customers; 0 without
	// customers.
	RepeatPurchaseRate float64
	// Orders placed in the period and not cancelled.
	Orders int64
	// ByCurrency holds the money figures per currency, sorted by code.
	ByCurrency []CurrencyKPIs
}

// CurrencyKPIs are the money figures of one period in one currency.
type CurrencyKPIs struct {
	Currency string
	// Orders placed in the period in this currency.
	Orders int64
	// Revenue is the totals of those orders less their refunds.
	Revenue string
	// AOV is Revenue / Orders, rounded half-even to the currency's minor
	// unit.
	AOV string
	// CLV is the distribution of revenue to date among the customers who
	// ordered in this currency in the period.
	CLV CLV
}

// CLV describes customer lifetime value — revenue to date, in one
// currency — across customers. "To date" is the end of the period: the
// orders placed before it, less their refunds, so a past period's figures do
// not grow as customers keep buying (a later refund or cancellation of
// those orders still lowers them). Percentiles are nearest-rank: each is
// the CLV of an actual customer.
type CLV struct {
	// Mean is rounded half-even to the currency's minor unit.
	Mean                    string
	P25, P50, P75, P90, P99 string
}

// Cohort is the customers whose first order fell in one cohort period,
// followed through the cohort periods after it.
type Cohort struct {
	Bounds period.Bounds
	// Size is the number of customers in the cohort.
	Size int64
	// Retained counts the cohort's customers with any activity in each
	// cohort period from the cohort's own (index 0, which is Size) to the
	// end of the range.
	Retained []int64
	// RetentionRate is Retained / Size, in the same order.
	RetentionRate []float64
	// Churned counts the cohort's customers churned at the end of the range
	// (or now, when that is earlier).
	Churned int64
}

// Commerce reports on the orders of profiles in the periods of spec, which
// must be valid. Cohorts are cut by cohort — Month or Quarter in the
// spec's calendar and zone; Month when zero — over the range rounded to
// whole cohort periods. filter keeps customers by their segments at now and
// orders by their touchpoint, as Filter describes; rules set the segments
// and the at-risk and churn thresholds.
func Commerce(profiles iter.Seq[*profile.Profile], spec period.Spec, now time.Time, rules profile.Rules, filter Filter, cohort period.Granularity) CommerceKPIs {
	bounds := spec.Periods()
	total := spec.Total()
	if cohort == 0 {
		cohort = period.Month
	}
	cspec := spec
	cspec.Granularity = cohort
	cbounds := cspec.Periods()
	asOf := now
	if total.End.Before(asOf) {
		asOf = total.End
	}

	rows := make([]commerceRow, len(bounds)+1) // the last one is the total
	cohorts := make([]cohortRow, len(cbounds))
	for i := range cohorts {
		cohorts[i].retained = make([]int64, len(cbounds)-i)
	}
	var atRisk, churned int64
	for p := range profiles {
		if p == nil || !filter.keeps(p, now, rules) {
			continue
		}
		orders := placed(p, filter)
		if len(orders) == 0 {
			continue
		}
		first := orders[0].at

		inPeriod := map[int][]order{}
		for _, o := range orders {
			if i := period.Locate(bounds, o.at); i >= 0 {
				inPeriod[i] = append(inPeriod[i], o)
				inPeriod[len(bounds)] = append(inPeriod[len(bounds)], o)
			}
		}
		for i, in := range inPeriod {
			b := total
			if i < len(bounds) {
				b = bounds[i]
			}
			rows[i].add(in, orders, first, b)
		}

		atRiskNow, churnedNow := standing(p, first, asOf, rules)
		if atRiskNow {
			atRisk++
		}
		if churnedNow {
			churned++
		}

		if c := period.Locate(cbounds, first); c >= 0 {
			cohorts[c].add(p, orders, cbounds, c, churnedNow)
		}
	}

	out := CommerceKPIs{
		Periods:          make([]CommercePeriod, len(bounds)),
		CustomersAtRisk:  atRisk,
		CustomersChurned: churned,
		AtRiskAfter:      rules.AtRiskAfter,
		ChurnedAfter:     rules.ChurnAfter,
	}
	for i, b := range bounds {
		out.Periods[i] = rows[i].result(b)
	}
	out.Total = rows[len(bounds)].result(total)
	for i, b := range cbounds {
		out.Cohorts = append(out.Cohorts, cohorts[i].result(b))
	}
	return out
}

// standing says whether a customer whose first order was at first is at
// risk or churned at asOf, by the thresholds Profile.Stage applies.
func standing(p *profile.Profile, first, asOf time.Time, rules profile.Rules) (atRisk, churned bool) {
	if first.After(asOf) {
		return false, false
	}
	last := lastActivity(p, asOf)
	if last.IsZero() {
		return false, false
	}
	idle := asOf.Sub(last)
	churned = rules.ChurnAfter > 0 && idle >= rules.ChurnAfter
	atRisk = !churned && rules.AtRiskAfter > 0 && idle >= rules.AtRiskAfter
	return atRisk, churned
}

// order is a live order: placed, not cancelled, with a total.
type order struct {
	at       time.Time
	currency string
	net      string // total less refunds in the order's currency
}

// placed returns the live orders of p that filter keeps, oldest first.
func placed(p *profile.Profile, filter Filter) []order {
	var out []order
	for _, o := range p.LiveOrders() {
		if !filter.keepsOrder(o) {
			continue
		}
		net := o.Total.Amount
		for _, r := range o.Refunds {
			if r.Currency == o.Total.Currency {
				net = profile.Diff(net, r.Amount)
			}
		}
		out = append(out, order{at: o.PlacedAt, currency: o.Total.Currency, net: net})
	}
	slices.SortStableFunc(out, func(a, b order) int { return a.at.Compare(b.at) })
	return out
}

type commerceRow struct {
	customers, newCustomers, repeat, orders int64
	byCurrency                              map[string]*currencyRow
}

type currencyRow struct {
	orders  int64
	revenue string
	clv     []string
}

// add counts one customer's orders in placed in period b; all is every
// live order of theirs and first the earliest.
func (r *commerceRow) add(in, all []order, first time.Time, b period.Bounds) {
	r.customers++
	if len(in) >= 2 {
		r.repeat++
	}
	if b.Contains(first) {
		r.newCustomers++
	}
	r.orders += int64(len(in))
	if r.byCurrency == nil {
		r.byCurrency = map[string]*currencyRow{}
	}
	seen := map[string]bool{}
	for _, o := range in {
		c := r.byCurrency[o.currency]
		if c == nil {
			c = &currencyRow{revenue: "0"}
			r.byCurrency[o.currency] = c
		}
		c.orders++
		c.revenue = profile.Sum(c.revenue, o.net)
		seen[o.currency] = true
	}
	for cur := range seen {
		clv := "0"
		for _, o := range all {
			if o.currency == cur && o.at.Before(b.End) {
				clv = profile.Sum(clv, o.net)
			}
		}
		r.byCurrency[cur].clv = append(r.byCurrency[cur].clv, clv)
	}
}

func (r *commerceRow) result(b period.Bounds) CommercePeriod {
	out := CommercePeriod{
		Bounds:             b,
		Customers:          r.customers,
		NewCustomers:       r.newCustomers,
		RepeatCustomers:    r.repeat,
		RepeatPurchaseRate: rate(r.repeat, r.customers),
		Orders:             r.orders,
	}
	for _, cur := range slices.Sorted(maps.Keys(r.byCurrency)) {
		c := r.byCurrency[cur]
		out.ByCurrency = append(out.ByCurrency, CurrencyKPIs{
			Currency: cur,
			Orders:   c.orders,
			Revenue:  c.revenue,
			AOV:      profile.Average(cur, c.revenue, c.orders),
			CLV:      distribution(cur, c.clv),
		})
	}
	return out
}

// distribution summarises customer values of one currency.
func distribution(currency string, values []string) CLV {
	if len(values) == 0 {
		return CLV{}
	}
	sorted := slices.SortedStableFunc(slices.Values(values), func(a, b string) int {
		switch {
		case profile.Less(a, b):
			return -1
		case profile.Less(b, a):
			return 1
		}
		return 0
	})
	sum := "0"
	for _, v := range sorted {
		sum = profile.Sum(sum, v)
	}
	at := func(pct int) string { return sorted[rank(pct, len(sorted))] }
	return CLV{
		Mean: profile.Average(currency, sum, int64(len(sorted))),
		P25:  at(25), P50: at(50), P75: at(75), P90: at(90), P99: at(99),
	}
}

type cohortRow struct {
	size, churned int64
	retained      []int64
}

// add counts a customer whose first order fell in cohort period c.
func (r *cohortRow) add(p *profile.Profile, orders []order, cbounds []period.Bounds, c int, churned bool) {
	r.size++
	if churned {
		r.churned++
	}
	seen := make([]bool, len(r.retained))
	mark := func(at time.Time) {
		if k := period.Locate(cbounds, at) - c; k >= 0 && k < len(seen) && !seen[k] {
			seen[k] = true
			r.retained[k]++
		}
	}
	for _, o := range orders {
		mark(o.at)
	}
	for _, e := range p.Applied {
		if e.Activity() {
			mark(e.At)
		}
	}
}

func (r *cohortRow) result(b period.Bounds) Cohort {
	out := Cohort{Bounds: b, Size: r.size, Retained: r.retained, Churned: r.churned}
	out.RetentionRate = make([]float64, len(r.retained))
	for k, n := range r.retained {
		out.RetentionRate[k] = rate(n, r.size)
	}
	return out
}
