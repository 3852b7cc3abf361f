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

func renderSupport(k SupportKPIs) string {
	var b strings.Builder
	row := func(kind string, p SupportPeriod) {
		fmt.Fprintf(&b, "%s %s: opened %d, resolved %d, reopened %d, reopen rate %.4f, resolution p50 %s p90 %s, fcr %d (%.4f)\n",
			kind, p.Bounds.Label, p.Opened, p.Resolved, p.Reopened, p.ReopenRate, p.ResolutionP50, p.ResolutionP90, p.FirstContactResolved, p.FirstContactResolutionRate)
		for _, v := range p.ByTopic {
			fmt.Fprintf(&b, "  %q: opened %d, resolved %d, reopened %d\n", v.Topic, v.Opened, v.Resolved, v.Reopened)
		}
	}
	for _, p := range k.Periods {
		row("period", p)
	}
	row("total", k.Total)
	return b.String()
}

func TestSupport(t *testing.T) {
	t.Parallel()
	// Six tickets over September and October 2024. The topic comes with
	// the opening only, as shops send it.
	shop := func(t *testing.T) []*profile.Profile {
		alice := newCustomer(t, "alice").
			nps("2024-08-01T00:00:00Z", 10).
			// Resolved in 2 hours at first contact.
			ticket("opened", "T1", "2024-09-01T09:00:00Z", "delivery", false).
			ticket("resolved", "T1", "2024-09-01T11:00:00Z", "", true).
			// Resolved, reopened, resolved for good 4 days after opening.
			ticket("opened", "T2", "2024-09-02T00:00:00Z", "delivery", false).
			ticket("resolved", "T2", "2024-09-03T00:00:00Z", "", false).
			ticket("reopened", "T2", "2024-09-04T00:00:00Z", "", false).
			ticket("resolved", "T2", "2024-09-06T00:00:00Z", "", false)
		bob := newCustomer(t, "bob").
			// Resolved in 6 hours "at first contact", reopened in October
			// and open since: not a first-contact resolution after all.
			ticket("opened", "T3", "2024-09-10T00:00:00Z", "refund", false).
			ticket("resolved", "T3", "2024-09-10T06:00:00Z", "", true).
			ticket("reopened", "T3", "2024-10-02T00:00:00Z", "", false).
			// Opened in September, resolved in October after 3 days.
			ticket("opened", "T4", "2024-09-28T00:00:00Z", "refund", false).
			ticket("resolved", "T4", "2024-10-01T00:00:00Z", "", false).
			// No topic, still open.
			ticket("opened", "T5", "2024-10-05T00:00:00Z", "", false).
			// Resolved in an hour at first contact.
			ticket("opened", "T6", "2024-10-10T00:00:00Z", "delivery", false).
			ticket("resolved", "T6", "2024-10-10T01:00:00Z", "", true)
		return profiles(alice, bob)
	}
	months := period.Spec{Start: at(t, "2024-09-01T00:00:00Z"), End: at(t, "2024-11-01T00:00:00Z"), Granularity: period.Month, Location: time.UTC}
	now := at(t, "2024-11-15T00:00:00Z")

	cases := []struct {
		name   string
		spec   period.Spec
		filter Filter
		want   string
	}{
		{
			name: "months",
			spec: months,
			want: `period 2024-09: opened 4, resolved 3, reopened 1, reopen rate 0.6667, resolution p50 6h0m0s p90 96h0m0s, fcr 1 (0.3333)
  "delivery": opened 2, resolved 2, reopened 1
  "refund": opened 2, resolved 1, reopened 0
period 2024-10: opened 2, resolved 2, reopened 1, reopen rate 0.0000, resolution p50 1h0m0s p90 72h0m0s, fcr 1 (0.5000)
  "": opened 1, resolved 0, reopened 0
  "delivery": opened 1, resolved 1, reopened 0
  "refund": opened 0, resolved 1, reopened 1
total 2024-09/2024-10: opened 6, resolved 5, reopened 2, reopen rate 0.4000, resolution p50 6h0m0s p90 96h0m0s, fcr 2 (0.4000)
  "delivery": opened 3, resolved 3, reopened 1
  "refund": opened 2, resolved 2, reopened 1
  "": opened 1, resolved 0, reopened 0
`,
		},
		{
			name:   "promoters only",
			spec:   months,
			filter: Filter{Segment: "promoter"},
			want: `period 2024-09: opened 2, resolved 2, reopened 1, reopen rate 0.5000, resolution p50 2h0m0s p90 96h0m0s, fcr 1 (0.5000)
  "delivery": opened 2, resolved 2, reopened 1
period 2024-10: opened 0, resolved 0, reopened 0, reopen rate 0.0000, resolution p50 0s p90 0s, fcr 0 (0.0000)
total 2024-09/2024-10: opened 2, resolved 2, reopened 1, reopen rate 0.5000, resolution p50 2h0m0s p90 96h0m0s, fcr 1 (0.5000)
  "delivery": opened 2, resolved 2, reopened 1
`,
		},
		{
			// Saturday-to-Friday weeks: T4 opens on Saturday 1403-07-07
			// (2024-09-28) and is resolved that week, without a reopen;
			// the week's reopen is T3's, resolved back in September.
			name: "jalali weeks",
			spec: period.Spec{Start: at(t, "2024-09-21T00:00:00Z"), End: at(t, "2024-10-05T00:00:00Z"), Granularity: period.Week, Calendar: period.Jalali, Location: time.UTC},
			want: `period 1403-06-31: opened 0, resolved 0, reopened 0, reopen rate 0.0000, resolution p50 0s p90 0s, fcr 0 (0.0000)
period 1403-07-07: opened 1, resolved 1, reopened 1, reopen rate 0.0000, resolution p50 72h0m0s p90 72h0m0s, fcr 0 (0.0000)
  "refund": opened 1, resolved 1, reopened 1
total 1403-06-31/1403-07-07: opened 1, resolved 1, reopened 1, reopen rate 0.0000, resolution p50 72h0m0s p90 72h0m0s, fcr 0 (0.0000)
  "refund": opened 1, resolved 1, reopened 1
`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.spec.Validate(); err != nil {
				t.Fatal(err)
			}
			got := renderSupport(Support(slices.Values(shop(t)), c.spec, now, profile.DefaultRules(), c.filter))
			if got != c.want {
				t.Errorf("report:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestSupportByTouchpoint(t *testing.T) {
	t.Parallel()
	// A ticket is in the touchpoint it was opened through, whatever the
	// later steps came through.
	shop := func(t *testing.T) []*profile.Profile {
		alice := newCustomer(t, "alice").
			through("chat").
			ticket("opened", "T1", "2024-09-01T09:00:00Z", "delivery", false).
			through("email").
			ticket("resolved", "T1", "2024-09-01T11:00:00Z", "", true).
			ticket("opened", "T2", "2024-09-02T00:00:00Z", "refund", false).
			ticket("resolved", "T2", "2024-09-03T00:00:00Z", "", false).
			through("chat").
			ticket("reopened", "T2", "2024-09-04T00:00:00Z", "", false)
		bob := newCustomer(t, "bob").
			through("chat").
			ticket("opened", "T3", "2024-09-10T00:00:00Z", "delivery", false).
			ticket("resolved", "T3", "2024-09-10T06:00:00Z", "", false).
			through("").
			ticket("opened", "T4", "2024-09-12T00:00:00Z", "refund", false)
		return profiles(alice, bob)
	}
	spec := period.Spec{Start: at(t, "2024-09-01T00:00:00Z"), End: at(t, "2024-10-01T00:00:00Z"), Granularity: period.Month, Location: time.UTC}
	now := at(t, "2024-10-15T00:00:00Z")

	cases := []struct {
		name   string
		filter Filter
		want   string
	}{
		{
			name:   "chat",
			filter: Filter{Touchpoint: "chat"},
			want: `period 2024-09: opened 2, resolved 2, reopened 0, reopen rate 0.0000, resolution p50 2h0m0s p90 6h0m0s, fcr 1 (0.5000)
  "delivery": opened 2, resolved 2, reopened 0
total 2024-09: opened 2, resolved 2, reopened 0, reopen rate 0.0000, resolution p50 2h0m0s p90 6h0m0s, fcr 1 (0.5000)
  "delivery": opened 2, resolved 2, reopened 0
`,
		},
		{
			name:   "email",
			filter: Filter{Touchpoint: "email"},
			want: `period 2024-09: opened 1, resolved 1, reopened 1, reopen rate 1.0000, resolution p50 24h0m0s p90 24h0m0s, fcr 0 (0.0000)
  "refund": opened 1, resolved 1, reopened 1
total 2024-09: opened 1, resolved 1, reopened 1, reopen rate 1.0000, resolution p50 24h0m0s p90 24h0m0s, fcr 0 (0.0000)
  "refund": opened 1, resolved 1, reopened 1
`,
		},
		{
			name: "no touchpoint: every ticket, T4 included",
			want: `period 2024-09: opened 4, resolved 3, reopened 1, reopen rate 0.3333, resolution p50 6h0m0s p90 24h0m0s, fcr 1 (0.3333)
  "delivery": opened 2, resolved 2, reopened 0
  "refund": opened 2, resolved 1, reopened 1
total 2024-09: opened 4, resolved 3, reopened 1, reopen rate 0.3333, resolution p50 6h0m0s p90 24h0m0s, fcr 1 (0.3333)
  "delivery": opened 2, resolved 2, reopened 0
  "refund": opened 2, resolved 1, reopened 1
`,
		},
		{
			name:   "a touchpoint no ticket was opened through",
			filter: Filter{Touchpoint: "phone"},
			want: `period 2024-09: opened 0, resolved 0, reopened 0, reopen rate 0.0000, resolution p50 0s p90 0s, fcr 0 (0.0000)
total 2024-09: opened 0, resolved 0, reopened 0, reopen rate 0.0000, resolution p50 0s p90 0s, fcr 0 (0.0000)
`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := renderSupport(Support(slices.Values(shop(t)), spec, now, profile.DefaultRules(), c.filter))
			if got != c.want {
				t.Errorf("report:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
