package kpi

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// renderCommerce writes a report the way an analyst would read it, so that
// a failing test shows the whole table.
func renderCommerce(k CommerceKPIs) string {
	var b strings.Builder
	row := func(kind string, p CommercePeriod) {
		fmt.Fprintf(&b, "%s %s: customers %d, new %d, repeat %d (%.4f), orders %d\n", kind, p.Bounds.Label, p.Customers, p.NewCustomers, p.RepeatCustomers, p.RepeatPurchaseRate, p.Orders)
		for _, c := range p.ByCurrency {
			fmt.Fprintf(&b, "  %s: orders %d, revenue %s, aov %s, clv mean %s p25 %s p50 %s p75 %s p90 %s p99 %s\n", c.Currency, c.Orders, c.Revenue, c.AOV, c.CLV.Mean, c.CLV.P25, c.CLV.P50, c.CLV.P75, c.CLV.P90, c.CLV.P99)
		}
	}
	for _, p := range k.Periods {
		row("period", p)
	}
	row("total", k.Total)
	for _, c := range k.Cohorts {
		fmt.Fprintf(&b, "cohort %s: size %d, retained %v, rate %.4f, churned %d\n", c.Bounds.Label, c.Size, c.Retained, c.RetentionRate, c.Churned)
	}
	fmt.Fprintf(&b, "at risk %d, churned %d (after %s, %s)\n", k.CustomersAtRisk, k.CustomersChurned, k.AtRiskAfter, k.ChurnedAfter)
	return b.String()
}

func TestCommerce(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	rules := profile.Rules{NewFor: 30 * day, AtRiskAfter: 20 * day, ChurnAfter: 50 * day, VIPRevenue: profile.Amounts{"USD": "150"}}

	// Three customers, five orders in September and October 2024, two
	// currencies; one earlier order, one cancelled and one partly refunded.
	shop := func(t *testing.T) []*profile.Profile {
		alice := newCustomer(t, "alice").
			order("a1", "2024-09-03T10:00:00Z", "USD", "100.00").
			order("a2", "2024-09-20T10:00:00Z", "USD", "50.50").
			order("a3", "2024-10-05T10:00:00Z", "USD", "30").
			view("2024-10-10T10:00:00Z")
		bob := newCustomer(t, "bob").
			order("b1", "2024-09-10T10:00:00Z", "IRT", "2500000").
			notified("2024-10-20T10:00:00Z") // something we did, not bob
		carol := newCustomer(t, "carol").
			order("c0", "2024-08-15T10:00:00Z", "USD", "40").
			order("c2", "2024-10-20T10:00:00Z", "USD", "80").
			order("c3", "2024-10-21T10:00:00Z", "USD", "10").
			cancel("c3", "2024-10-21T12:00:00Z").
			refund("c2", "2024-10-22T10:00:00Z", "USD", "20")
		dave := newCustomer(t, "dave").view("2024-09-05T10:00:00Z") // never ordered
		return profiles(alice, bob, carol, dave)
	}
	months := period.Spec{Start: at(t, "2024-09-01T00:00:00Z"), End: at(t, "2024-11-01T00:00:00Z"), Granularity: period.Month, Location: time.UTC}

	tehran, err := time.LoadLocation("Asia/Tehran")
	if err != nil {
		t.Fatal(err)
	}
	// Two orders an hour and a half apart, either side of Tehran midnight
	// at the start of Mehr 1403.
	nowruzShop := func(t *testing.T) []*profile.Profile {
		return profiles(
			newCustomer(t, "x").order("x1", "2024-09-21T22:00:00+03:30", "IRT", "1000000"),
			newCustomer(t, "y").order("y1", "2024-09-22T00:30:00+03:30", "IRT", "2000000"),
		)
	}

	cases := []struct {
		name    string
		shop    func(*testing.T) []*profile.Profile
		spec    period.Spec
		now     string
		filter  Filter
		cohorts period.Granularity
		want    string
	}{
		{
			name: "months, all customers, as of the end of the range",
			shop: shop, spec: months, now: "2025-01-15T00:00:00Z",
			want: `period 2024-09: customers 2, new 2, repeat 1 (0.5000), orders 3
  IRT: orders 1, revenue 2500000, aov 2500000, clv mean 2500000 p25 2500000 p50 2500000 p75 2500000 p90 2500000 p99 2500000
  USD: orders 2, revenue 150.5, aov 75.25, clv mean 150.5 p25 150.5 p50 150.5 p75 150.5 p90 150.5 p99 150.5
period 2024-10: customers 2, new 0, repeat 0 (0.0000), orders 2
  USD: orders 2, revenue 90, aov 45, clv mean 140.25 p25 100 p50 100 p75 180.5 p90 180.5 p99 180.5
total 2024-09/2024-10: customers 3, new 2, repeat 1 (0.3333), orders 5
  IRT: orders 1, revenue 2500000, aov 2500000, clv mean 2500000 p25 2500000 p50 2500000 p75 2500000 p90 2500000 p99 2500000
  USD: orders 4, revenue 240.5, aov 60.12, clv mean 140.25 p25 100 p50 100 p75 180.5 p90 180.5 p99 180.5
cohort 2024-09: size 2, retained [2 1], rate [1.0000 0.5000], churned 1
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 1, churned 1 (after 480h0m0s, 1200h0m0s)
`,
		},
		{
			// Carol's first order, in August, makes her part of the Q3
			// cohort once the range is rounded to whole quarters.
			name: "quarterly cohorts",
			shop: shop, spec: months, now: "2025-01-15T00:00:00Z", cohorts: period.Quarter,
			want: `cohort 2024-Q3: size 3, retained [3 2], rate [1.0000 0.6667], churned 1
cohort 2024-Q4: size 0, retained [0], rate [0.0000], churned 0
`,
		},
		{
			// Now is inside the range: bob has been idle 45 days (at risk,
			// not yet churned), alice 15.
			name: "at risk and churned as of now",
			shop: shop, spec: months, now: "2024-10-25T10:00:00Z",
			want: `cohort 2024-09: size 2, retained [2 1], rate [1.0000 0.5000], churned 0
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 1, churned 0 (after 480h0m0s, 1200h0m0s)
`,
		},
		{
			// Only alice has 150 USD to date.
			name: "vip segment",
			shop: shop, spec: months, now: "2025-01-15T00:00:00Z", filter: Filter{Segment: "vip"},
			want: `period 2024-09: customers 1, new 1, repeat 1 (1.0000), orders 2
  USD: orders 2, revenue 150.5, aov 75.25, clv mean 150.5 p25 150.5 p50 150.5 p75 150.5 p90 150.5 p99 150.5
period 2024-10: customers 1, new 0, repeat 0 (0.0000), orders 1
  USD: orders 1, revenue 30, aov 30, clv mean 180.5 p25 180.5 p50 180.5 p75 180.5 p90 180.5 p99 180.5
total 2024-09/2024-10: customers 1, new 1, repeat 1 (1.0000), orders 3
  USD: orders 3, revenue 180.5, aov 60.17, clv mean 180.5 p25 180.5 p50 180.5 p75 180.5 p90 180.5 p99 180.5
cohort 2024-09: size 1, retained [1 1], rate [1.0000 1.0000], churned 0
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 1, churned 0 (after 480h0m0s, 1200h0m0s)
`,
		},
		{
			name: "segment nobody is in",
			shop: shop, spec: months, now: "2025-01-15T00:00:00Z", filter: Filter{Segment: "promoter"},
			want: `period 2024-09: customers 0, new 0, repeat 0 (0.0000), orders 0
period 2024-10: customers 0, new 0, repeat 0 (0.0000), orders 0
total 2024-09/2024-10: customers 0, new 0, repeat 0 (0.0000), orders 0
cohort 2024-09: size 0, retained [0 0], rate [0.0000 0.0000], churned 0
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 0, churned 0 (after 480h0m0s, 1200h0m0s)
`,
		},
		{
			name: "jalali months split at Tehran midnight",
			shop: nowruzShop,
			spec: period.Spec{Start: at(t, "2024-09-01T00:00:00+03:30"), End: at(t, "2024-10-01T00:00:00+03:30"), Granularity: period.Month, Calendar: period.Jalali, Location: tehran},
			now:  "2024-10-01T00:00:00+03:30",
			want: `period 1403-06: customers 1, new 1, repeat 0 (0.0000), orders 1
  IRT: orders 1, revenue 1000000, aov 1000000, clv mean 1000000 p25 1000000 p50 1000000 p75 1000000 p90 1000000 p99 1000000
period 1403-07: customers 1, new 1, repeat 0 (0.0000), orders 1
  IRT: orders 1, revenue 2000000, aov 2000000, clv mean 2000000 p25 2000000 p50 2000000 p75 2000000 p90 2000000 p99 2000000
total 1403-06/1403-07: customers 2, new 2, repeat 0 (0.0000), orders 2
  IRT: orders 2, revenue 3000000, aov 1500000, clv mean 1500000 p25 1000000 p50 1000000 p75 2000000 p90 2000000 p99 2000000
cohort 1403-06: size 1, retained [1 0], rate [1.0000 0.0000], churned 0
cohort 1403-07: size 1, retained [1], rate [1.0000], churned 0
at risk 0, churned 0 (after 480h0m0s, 1200h0m0s)
`,
		},
		{
			// The same two orders fall in one Gregorian month, in UTC and
			// in Tehran alike.
			name: "gregorian month holds both",
			shop: nowruzShop,
			spec: period.Spec{Start: at(t, "2024-09-01T00:00:00Z"), End: at(t, "2024-10-01T00:00:00Z"), Granularity: period.Month, Location: time.UTC},
			now:  "2024-10-01T00:00:00Z",
			want: `period 2024-09: customers 2, new 2, repeat 0 (0.0000), orders 2
  IRT: orders 2, revenue 3000000, aov 1500000, clv mean 1500000 p25 1000000 p50 1000000 p75 2000000 p90 2000000 p99 2000000
`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.spec.Validate(); err != nil {
				t.Fatal(err)
			}
			got := renderCommerce(Commerce(slices.Values(c.shop(t)), c.spec, at(t, c.now), rules, c.filter, c.cohorts))
			// A case may list only some lines of the report, in order.
			if !containsLines(got, c.want) {
				t.Errorf("report:\n%s\nwant lines:\n%s", got, c.want)
			}
		})
	}
}

// containsLines reports whether every line of want appears in got, in the
// same order.
func containsLines(got, want string) bool {
	lines := strings.Split(got, "\n")
	i := 0
	for _, w := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			return false
		}
		i++
	}
	return true
}

func TestCommerceByTouchpoint(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	rules := profile.Rules{NewFor: 30 * day, AtRiskAfter: 40 * day, ChurnAfter: 90 * day, VIPRevenue: profile.Amounts{"USD": "150"}}

	// Alice orders twice on the web, then once in the app; bob once on the
	// web, partly refunded; carol's order came without a touchpoint.
	shop := func(t *testing.T) []*profile.Profile {
		alice := newCustomer(t, "alice").through("web").
			order("a1", "2024-09-03T10:00:00Z", "USD", "100.00").
			order("a2", "2024-09-20T10:00:00Z", "USD", "50.50").
			through("app").
			order("a3", "2024-10-05T10:00:00Z", "USD", "30")
		bob := newCustomer(t, "bob").through("web").
			order("b1", "2024-09-10T10:00:00Z", "USD", "20").
			through("email"). // the refund's touchpoint does not matter
			refund("b1", "2024-09-12T10:00:00Z", "USD", "5")
		carol := newCustomer(t, "carol").
			order("c1", "2024-09-15T10:00:00Z", "USD", "70")
		return profiles(alice, bob, carol)
	}
	months := period.Spec{Start: at(t, "2024-09-01T00:00:00Z"), End: at(t, "2024-11-01T00:00:00Z"), Granularity: period.Month, Location: time.UTC}
	// As of the end of the range: alice idle 27 days, carol 47 and bob 50.
	now := at(t, "2025-01-15T00:00:00Z")

	// Alice is a customer of the app report through her one app order only:
	// new there in October, with a CLV of what she spent in the app.
	appReport := `period 2024-09: customers 0, new 0, repeat 0 (0.0000), orders 0
period 2024-10: customers 1, new 1, repeat 0 (0.0000), orders 1
  USD: orders 1, revenue 30, aov 30, clv mean 30 p25 30 p50 30 p75 30 p90 30 p99 30
total 2024-09/2024-10: customers 1, new 1, repeat 0 (0.0000), orders 1
  USD: orders 1, revenue 30, aov 30, clv mean 30 p25 30 p50 30 p75 30 p90 30 p99 30
cohort 2024-09: size 0, retained [0 0], rate [0.0000 0.0000], churned 0
cohort 2024-10: size 1, retained [1], rate [1.0000], churned 0
at risk 0, churned 0 (after 960h0m0s, 2160h0m0s)
`
	cases := []struct {
		name   string
		filter Filter
		want   string
	}{
		{
			name:   "app: one order and its revenue exactly",
			filter: Filter{Touchpoint: "app"},
			want:   appReport,
		},
		{
			// Alice's app order is in neither October nor her CLV; she is
			// still retained in October, by her activity anywhere. Carol,
			// with no web order, is not at risk in this report.
			name:   "web: the two web customers and their web orders",
			filter: Filter{Touchpoint: "web"},
			want: `period 2024-09: customers 2, new 2, repeat 1 (0.5000), orders 3
  USD: orders 3, revenue 165.5, aov 55.17, clv mean 82.75 p25 15 p50 15 p75 150.5 p90 150.5 p99 150.5
period 2024-10: customers 0, new 0, repeat 0 (0.0000), orders 0
total 2024-09/2024-10: customers 2, new 2, repeat 1 (0.5000), orders 3
  USD: orders 3, revenue 165.5, aov 55.17, clv mean 82.75 p25 15 p50 15 p75 150.5 p90 150.5 p99 150.5
cohort 2024-09: size 2, retained [2 1], rate [1.0000 0.5000], churned 0
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 1, churned 0 (after 960h0m0s, 2160h0m0s)
`,
		},
		{
			name: "no touchpoint: every order, carol's included",
			want: `period 2024-09: customers 3, new 3, repeat 1 (0.3333), orders 4
  USD: orders 4, revenue 235.5, aov 58.88, clv mean 78.5 p25 15 p50 70 p75 150.5 p90 150.5 p99 150.5
period 2024-10: customers 1, new 0, repeat 0 (0.0000), orders 1
  USD: orders 1, revenue 30, aov 30, clv mean 180.5 p25 180.5 p50 180.5 p75 180.5 p90 180.5 p99 180.5
total 2024-09/2024-10: customers 3, new 3, repeat 1 (0.3333), orders 5
at risk 2, churned 0 (after 960h0m0s, 2160h0m0s)
`,
		},
		{
			name:   "a touchpoint nobody ordered through",
			filter: Filter{Touchpoint: "store"},
			want: `period 2024-09: customers 0, new 0, repeat 0 (0.0000), orders 0
period 2024-10: customers 0, new 0, repeat 0 (0.0000), orders 0
total 2024-09/2024-10: customers 0, new 0, repeat 0 (0.0000), orders 0
cohort 2024-09: size 0, retained [0 0], rate [0.0000 0.0000], churned 0
cohort 2024-10: size 0, retained [0], rate [0.0000], churned 0
at risk 0, churned 0 (after 960h0m0s, 2160h0m0s)
`,
		},
		{
			// Alice is VIP by all her orders (180.5 USD), though only 30 of
			// them were through the app.
			name:   "segment judged on the whole profile, touchpoint on each order",
			filter: Filter{Segment: "vip", Touchpoint: "app"},
			want:   appReport,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := renderCommerce(Commerce(slices.Values(shop(t)), months, now, rules, c.filter, 0))
			if !containsLines(got, c.want) {
				t.Errorf("report:\n%s\nwant lines:\n%s", got, c.want)
			}
		})
	}
}

func TestNearestRank(t *testing.T) {
	t.Parallel()
	values := []string{"7", "1", "10", "3", "2", "9", "4", "8", "6", "5"}
	got := distribution("USD", values)
	want := CLV{Mean: "5.5", P25: "3", P50: "5", P75: "8", P90: "9", P99: "10"}
	if got != want {
		t.Errorf("distribution of 1..10 = %+v, want %+v", got, want)
	}
	if got := distribution("IRT", []string{"1", "2"}); got.Mean != "2" {
		t.Errorf("IRT mean of 1 and 2 = %s, want 2 (half-even, no minor unit)", got.Mean)
	}
}
