package profile

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// Rules configure lifecycle stages and segments.
type Rules struct {
	// NewFor is how long after the first order a customer is still new.
	NewFor time.Duration
	// AtRiskAfter and ChurnAfter are the spans without activity after which
	// a customer is at risk, then churned.
	AtRiskAfter, ChurnAfter time.Duration
	// VIPRevenue is the revenue per currency from which a customer is VIP.
	VIPRevenue Amounts
	// VIPTopPercent makes the top spenders VIP: the customers whose revenue
	// in a currency is within the top VIPTopPercent percent of the tenant's
	// customers (0: off). The cut-off is computed over all customers (see
	// TopCutoff) and applied with WithCutoffs.
	VIPTopPercent float64
}

// WithCutoffs returns the rules with the tenant's top-spender cut-offs
// added: a customer is VIP from the lower of the configured threshold and
// the cut-off, per currency.
func (r Rules) WithCutoffs(cutoffs Amounts) Rules {
	if len(cutoffs) == 0 {
		return r
	}
	merged := Amounts{}
	for cur, v := range r.VIPRevenue {
		merged[cur] = v
	}
	for cur, v := range cutoffs {
		if old, ok := merged[cur]; !ok || Less(v, old) {
			merged[cur] = v
		}
	}
	r.VIPRevenue = merged
	return r
}

// TopCutoff is the revenue from which a customer is among the top percent
// of revenues: the smallest revenue of the top ceil(n*percent/100)
// customers (at least one). It is "" for no revenues or a percent outside
// (0, 100].
func TopCutoff(revenues []string, percent float64) string {
	if len(revenues) == 0 || percent <= 0 || percent > 100 {
		return ""
	}
	sorted := slices.Clone(revenues)
	slices.SortFunc(sorted, func(a, b string) int { return rat(b).Cmp(rat(a)) })
	k := int(math.Ceil(float64(len(sorted)) * percent / 100))
	k = max(1, min(k, len(sorted)))
	return sorted[k-1]
}

// DefaultRules are the product's defaults: new for 30 days, at risk after
// 60 days without activity, churned after 90.
func DefaultRules() Rules {
	return Rules{NewFor: 30 * 24 * time.Hour, AtRiskAfter: 60 * 24 * time.Hour, ChurnAfter: 90 * 24 * time.Hour}
}

// Stage is a lifecycle stage.
type Stage string

// Stages, in the order a healthy relationship moves through them.
const (
	StageUnknown Stage = ""
	StageNew     Stage = "new"
	StageActive  Stage = "active"
	StageRepeat  Stage = "repeat"
	StageAtRisk  Stage = "at_risk"
	StageChurned Stage = "churned"
)

// LiveOrders are the orders placed and not cancelled.
func (p *Profile) LiveOrders() []*Order {
	var out []*Order
	for _, id := range slices.Sorted(maps.Keys(p.Orders)) {
		o := p.Orders[id]
		if !o.PlacedAt.IsZero() && o.CancelledAt.IsZero() && o.Total != nil {
			out = append(out, o)
		}
	}
	return out
}

// Stage is the lifecycle stage at now. It is computed on read, so a
// customer becomes at risk when the time passes, not at their next event.
func (p *Profile) Stage(now time.Time, r Rules) Stage {
	if p.LastActivity.IsZero() {
		return StageUnknown
	}
	idle := now.Sub(p.LastActivity)
	switch {
	case r.ChurnAfter > 0 && idle >= r.ChurnAfter:
		return StageChurned
	case r.AtRiskAfter > 0 && idle >= r.AtRiskAfter:
		return StageAtRisk
	}
	live := p.LiveOrders()
	switch {
	case len(live) >= 2:
		return StageRepeat
	case len(live) == 1 && now.Sub(live[0].PlacedAt) >= r.NewFor:
		return StageActive
	}
	return StageNew
}

// NPSCategory is "promoter" (9-10), "passive" (7-8), "detractor" (0-6) or
// "" from the latest NPS answer.
func (p *Profile) NPSCategory() string {
	s, ok := p.Scores["nps"]
	switch {
	case !ok:
		return ""
	case s.Score >= 9:
		return "promoter"
	case s.Score >= 7:
		return "passive"
	}
	return "detractor"
}

// Segments are the segments the customer is in at now: the lifecycle stage,
// "vip" and the NPS category.
func (p *Profile) Segments(now time.Time, r Rules) []string {
	var segs []string
	if st := p.Stage(now, r); st != StageUnknown {
		segs = append(segs, string(st))
	}
	if p.isVIP(r) {
		segs = append(segs, "vip")
	}
	if c := p.NPSCategory(); c != "" {
		segs = append(segs, c)
	}
	sort.Strings(segs)
	return segs
}

func (p *Profile) isVIP(r Rules) bool {
	for _, t := range p.Commerce().ByCurrency {
		if min, ok := r.VIPRevenue[t.Currency]; ok && !Less(t.Revenue, min) {
			return true
		}
	}
	return false
}

// SegmentChange is a segment entered or left, and when.
type SegmentChange struct {
	Segment string
	Entered bool
	At      time.Time
}

func (p *Profile) enteredAt(segment string, at time.Time, r Rules) time.Time {
	switch Stage(segment) {
	case StageAtRisk:
		return p.LastActivity.Add(r.AtRiskAfter)
	case StageChurned:
		return p.LastActivity.Add(r.ChurnAfter)
	}
	return at
}

// UpdateSegments evaluates the segments at time at (the event time when an
// event is applied; the clock when time alone passes) against those
// recorded, records the new set and returns the transitions, each once. A
// segment entered because time passed (at risk, churned) is dated when the
// threshold was crossed, not when it was noticed.
func (p *Profile) UpdateSegments(at time.Time, r Rules) []SegmentChange {
	cur := p.Segments(at, r)
	var changes []SegmentChange
	for _, s := range cur {
		if _, ok := p.Memberships[s]; !ok {
			changes = append(changes, SegmentChange{Segment: s, Entered: true})
		}
	}
	for _, s := range slices.Sorted(maps.Keys(p.Memberships)) {
		if !slices.Contains(cur, s) {
			changes = append(changes, SegmentChange{Segment: s})
		}
	}
	for i := range changes {
		c := &changes[i]
		c.At = at
		if p.Memberships == nil {
			p.Memberships = map[string]time.Time{}
		}
		if c.Entered {
			p.Memberships[c.Segment] = p.enteredAt(c.Segment, at, r)
			c.At = p.Memberships[c.Segment]
		} else {
			delete(p.Memberships, c.Segment)
		}
	}
	return changes
}

// CurrencyTotals are the money figures in one currency.
type CurrencyTotals struct {
	Currency                        string
	Orders                          int64
	Revenue, AOV, Largest, Refunded string
	// PreviousAOV is the average of the orders before the latest one (by
	// event time, ties by order id): the usual order size the latest order
	// is judged against. Empty before a second order.
	PreviousAOV string
	// latest is the latest order's net amount and when it was placed.
	latestNet string
	latestAt  time.Time
}

// Affinity counts purchases and views of a product or category.
type Affinity struct {
	Key, Name        string
	Purchases, Views int64
}

// Commerce summarises the purchase history.
type Commerce struct {
	OrderCount, Cancellations, Refunds int64
	FirstOrder, LastOrder              time.Time
	ByCurrency                         []CurrencyTotals
	Categories, Products               []Affinity
	ViewedNotBought                    []View
	Favourites                         []string
}

// Commerce computes the commerce summary. Revenue is order totals less
// refunds, cancelled orders excluded; amounts of different currencies are
// never added together.
//
// It is computed once per revision: every change to a profile moves its
// revision on.
func (p *Profile) Commerce() Commerce {
	if p.commerce == nil || p.commerceRev != p.Revision {
		c := p.computeCommerce()
		p.commerce, p.commerceRev = &c, p.Revision
	}
	return *p.commerce
}

func (p *Profile) computeCommerce() Commerce {
	var c Commerce
	byCur := map[string]*CurrencyTotals{}
	products := map[string]*Affinity{}
	categories := map[string]*Affinity{}
	bought := map[string]time.Time{} // product -> latest live order time
	for _, id := range slices.Sorted(maps.Keys(p.Orders)) {
		o := p.Orders[id]
		if o.PlacedAt.IsZero() {
			continue
		}
		c.OrderCount++
		if !o.CancelledAt.IsZero() {
			c.Cancellations++
		}
		if len(o.Refunds) > 0 {
			c.Refunds++
		}
		if c.FirstOrder.IsZero() || o.PlacedAt.Before(c.FirstOrder) {
			c.FirstOrder = o.PlacedAt
		}
		if o.PlacedAt.After(c.LastOrder) {
			c.LastOrder = o.PlacedAt
		}
		if o.Total == nil || !o.CancelledAt.IsZero() {
			continue
		}
		t := byCur[o.Total.Currency]
		if t == nil {
			t = &CurrencyTotals{Currency: o.Total.Currency, Revenue: "0", Largest: "0", Refunded: "0"}
			byCur[o.Total.Currency] = t
		}
		t.Orders++
		t.Revenue = Sum(t.Revenue, o.Total.Amount)
		net := o.Total.Amount
		if Less(t.Largest, o.Total.Amount) {
			t.Largest = Sum("0", o.Total.Amount) // normalised like the other sums
		}
		for _, rid := range slices.Sorted(maps.Keys(o.Refunds)) {
			r := o.Refunds[rid]
			if r.Currency == t.Currency {
				t.Refunded = Sum(t.Refunded, r.Amount)
				t.Revenue = Diff(t.Revenue, r.Amount)
				net = Diff(net, r.Amount)
			}
		}
		if !o.PlacedAt.Before(t.latestAt) { // ids ascend: a tie goes to the later id
			t.latestNet, t.latestAt = net, o.PlacedAt
		}
		for _, it := range o.Items {
			count(products, it.Product.ID, it.Product.Name).Purchases += max(it.Quantity, 1)
			if it.Product.Category != "" {
				count(categories, it.Product.Category, "").Purchases += max(it.Quantity, 1)
			}
			if o.PlacedAt.After(bought[it.Product.ID]) {
				bought[it.Product.ID] = o.PlacedAt
			}
		}
	}
	for _, cur := range slices.Sorted(maps.Keys(byCur)) {
		t := byCur[cur]
		t.AOV = Average(cur, t.Revenue, t.Orders)
		if t.Orders > 1 {
			t.PreviousAOV = Average(cur, Diff(t.Revenue, t.latestNet), t.Orders-1)
		}
		t.latestNet, t.latestAt = "", time.Time{}
		c.ByCurrency = append(c.ByCurrency, *t)
	}
	for _, id := range slices.Sorted(maps.Keys(p.Viewed)) {
		v := p.Viewed[id]
		count(products, id, v.Product.Name).Views += v.Count
		if v.Product.Category != "" {
			count(categories, v.Product.Category, "").Views += v.Count
		}
		if b, ok := bought[id]; !ok || b.Before(v.First) {
			c.ViewedNotBought = append(c.ViewedNotBought, *v)
		}
	}
	sort.SliceStable(c.ViewedNotBought, func(i, j int) bool { return c.ViewedNotBought[i].Last.After(c.ViewedNotBought[j].Last) })
	c.Products, c.Categories = ranked(products), ranked(categories)
	for _, a := range c.Products {
		if a.Purchases > 0 && len(c.Favourites) < 5 {
			c.Favourites = append(c.Favourites, a.Key)
		}
	}
	return c
}

func count(m map[string]*Affinity, key, name string) *Affinity {
	a, ok := m[key]
	if !ok {
		a = &Affinity{Key: key}
		m[key] = a
	}
	if name != "" {
		a.Name = name
	}
	return a
}

// ranked orders affinities most bought first, then most viewed, then key.
func ranked(m map[string]*Affinity) []Affinity {
	out := make([]Affinity, 0, len(m))
	for _, a := range m {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Purchases != b.Purchases {
			return a.Purchases > b.Purchases
		}
		if a.Views != b.Views {
			return a.Views > b.Views
		}
		return a.Key < b.Key
	})
	return out
}

// Support summarises tickets.
type Support struct {
	Open, Total, Reopened int64
	LastTopic             string
	LastTicketAt          time.Time
}

// Support computes the ticket summary.
func (p *Profile) Support() Support {
	var s Support
	for _, id := range slices.Sorted(maps.Keys(p.Tickets)) {
		t := p.Tickets[id]
		s.Total++
		if t.State.V == "open" {
			s.Open++
		}
		if len(t.Reopens) > 0 {
			s.Reopened++
		}
		opened := t.OpenedAt
		if opened.IsZero() {
			opened = t.State.At
		}
		if !opened.Before(s.LastTicketAt) {
			s.LastTicketAt, s.LastTopic = opened, t.Topic.V
		}
	}
	return s
}
