package profile_test

import (
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func TestStage(t *testing.T) {
	t.Parallel()
	rules := profile.DefaultRules() // new for 30 days; at risk after 60, churned after 90 days idle
	firstOrder := placed("e1", "o1", day(0), "IRT", "960000")
	notActivity := []profile.Event{
		firstOrder,
		ev("n1", "notification.sent", day(50)),
		ev("n2", "notification.delivered", day(50).Add(time.Minute)),
		ev("n3", "notification.failed", day(51)),
		ev("n4", "segment.entered", day(60)),
		ev("n5", "segment.exited", day(61)),
		ev("n6", "trigger.fired", day(55)),
		ev("n7", "task.created", day(55)),
		ev("n8", "survey.invited", day(58)),
	}
	tests := []struct {
		name   string
		events []profile.Event
		now    time.Time
		want   profile.Stage
	}{
		{"no events: no stage", nil, day(10), profile.StageUnknown},
		{"only messages Bazgasht sent: no stage", notActivity[1:], day(60), profile.StageUnknown},
		{"browsing without an order: new", []profile.Event{viewed("v1", day(0), tea)}, day(10), profile.StageNew},
		{"first order 10 days ago: new", []profile.Event{firstOrder}, day(10), profile.StageNew},
		{"first order 29 days ago: still new", []profile.Event{firstOrder}, day(29), profile.StageNew},
		{"first order exactly NewFor ago: active", []profile.Event{firstOrder}, day(30), profile.StageActive},
		{"one order 45 days ago: active", []profile.Event{firstOrder}, day(45), profile.StageActive},
		{"59 days idle: not yet at risk", []profile.Event{firstOrder}, day(59), profile.StageActive},
		{"60 days idle: at risk", []profile.Event{firstOrder}, day(60), profile.StageAtRisk},
		{"89 days idle: still at risk", []profile.Event{firstOrder}, day(89), profile.StageAtRisk},
		{"90 days idle: churned", []profile.Event{firstOrder}, day(90), profile.StageChurned},
		{"a year idle: churned", []profile.Event{firstOrder}, day(365), profile.StageChurned},
		{"two live orders: repeat", []profile.Event{firstOrder, placed("e2", "o2", day(5), "IRT", "1250000")}, day(10), profile.StageRepeat},
		{
			"two orders, one cancelled: not repeat",
			[]profile.Event{firstOrder, placed("e2", "o2", day(5), "IRT", "1250000"), orderStep("e3", "order.cancelled", "o2", day(6))},
			day(10), profile.StageNew,
		},
		{"a repeat customer idle 60 days is at risk", []profile.Event{firstOrder, placed("e2", "o2", day(5), "IRT", "1250000")}, day(65), profile.StageAtRisk},
		{"messages, segment changes, triggers, tasks and invitations are not activity: churned", notActivity, day(90), profile.StageChurned},
		{"a survey answer is activity", []profile.Event{firstOrder, responded("s1", "nps", 9, day(50))}, day(90), profile.StageActive},
		{"a product view is activity", []profile.Event{firstOrder, viewed("v1", day(40), tea)}, day(90), profile.StageActive},
		{"a ticket is activity", []profile.Event{firstOrder, ticketEv("t1", "ticket.opened", "T-1", "refund", day(40))}, day(90), profile.StageActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "stage", fold(t, tt.events...).Stage(tt.now, rules), tt.want)
		})
	}
}

// TestStageIsComputedOnRead reads one profile as time passes, with no new
// event: the stage moves on by itself and reading changes nothing.
func TestStageIsComputedOnRead(t *testing.T) {
	t.Parallel()
	p := fold(t, placed("e1", "o1", day(0), "IRT", "960000"), ev("n1", "notification.sent", day(70)))
	before := snapshot(t, p)
	for _, step := range []struct {
		now  time.Time
		want profile.Stage
	}{
		{day(0), profile.StageNew},
		{day(29), profile.StageNew},
		{day(30), profile.StageActive},
		{day(60).Add(-time.Second), profile.StageActive},
		{day(60), profile.StageAtRisk},
		{day(90).Add(-time.Second), profile.StageAtRisk},
		{day(90), profile.StageChurned},
		{day(400), profile.StageChurned},
	} {
		check(t, "stage at "+step.now.Format(time.DateTime), p.Stage(step.now, profile.DefaultRules()), step.want)
	}
	if after := snapshot(t, p); after != before {
		t.Errorf("reading the stage changed the profile")
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	rules := profile.DefaultRules()
	rules.VIPRevenue = profile.Amounts{"IRT": "2000000", "USD": "500"}
	tests := []struct {
		name   string
		events []profile.Event
		want   []string
	}{
		{
			name:   "IRT revenue over the IRT threshold: vip",
			events: []profile.Event{placed("e1", "o1", day(0), "IRT", "960000"), placed("e2", "o2", day(20), "IRT", "1250000")},
			want:   []string{"repeat", "vip"},
		},
		{
			name:   "exactly the threshold: vip",
			events: []profile.Event{placed("e1", "o1", day(20), "IRT", "2000000")},
			want:   []string{"new", "vip"},
		},
		{
			name:   "one toman below the threshold: not vip",
			events: []profile.Event{placed("e1", "o1", day(20), "IRT", "1999999")},
			want:   []string{"new"},
		},
		{
			name: "a refund that brings revenue below the threshold: not vip",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				placed("e2", "o2", day(20), "IRT", "1250000"),
				refunded("r1", "o2", day(21), "IRT", "250000"),
			},
			want: []string{"repeat"},
		},
		{
			name: "a cancelled order does not count toward vip",
			events: []profile.Event{
				placed("e1", "o1", day(19), "IRT", "960000"),
				placed("e2", "o2", day(20), "IRT", "1250000"),
				orderStep("e3", "order.cancelled", "o2", day(21)),
			},
			want: []string{"new"},
		},
		{
			name:   "thresholds are per currency, never added across currencies",
			events: []profile.Event{placed("e1", "o1", day(19), "IRT", "1500000"), placed("e2", "o2", day(20), "USD", "499.99")},
			want:   []string{"repeat"},
		},
		{
			name:   "the USD threshold applies to USD revenue",
			events: []profile.Event{placed("e1", "o1", day(20), "USD", "500.00")},
			want:   []string{"new", "vip"},
		},
		{
			name:   "revenue in a currency without a threshold never makes vip",
			events: []profile.Event{placed("e1", "o1", day(20), "EUR", "1000000")},
			want:   []string{"new"},
		},
		{
			name:   "a promoter is in the promoter segment too",
			events: []profile.Event{placed("e1", "o1", day(20), "IRT", "960000"), responded("s1", "nps", 10, day(21))},
			want:   []string{"new", "promoter"},
		},
		{
			name:   "a detractor who went quiet: at risk and detractor",
			events: []profile.Event{placed("e1", "o1", day(-70), "IRT", "960000"), responded("s1", "nps", 2, day(-60))},
			want:   []string{"at_risk", "detractor"},
		},
		{
			name:   "a passive is in the passive segment",
			events: []profile.Event{responded("s1", "nps", 7, day(21))},
			want:   []string{"new", "passive"},
		},
		{
			name: "no events: no segments",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "segments", fold(t, tt.events...).Segments(day(22), rules), tt.want)
		})
	}
}

// TestUpdateSegments walks one customer through their lifecycle, noticing
// segment changes both when an event is applied and when time alone passes.
func TestUpdateSegments(t *testing.T) {
	t.Parallel()
	rules := testRules() // VIP from 2,000,000 IRT
	p := profile.New("demo", "p_test")
	steps := []struct {
		name   string
		events []profile.Event
		at     time.Time
		want   []profile.SegmentChange
	}{
		{
			name:   "first order: enters new at the event time",
			events: []profile.Event{placed("e1", "o1", day(0), "IRT", "960000")},
			at:     day(0),
			want:   []profile.SegmentChange{{Segment: "new", Entered: true, At: day(0)}},
		},
		{name: "evaluated again at the same time: nothing", at: day(0)},
		{name: "ten days on: nothing", at: day(10)},
		{
			name: "30 days after the first order: active in, new out",
			at:   day(30),
			want: []profile.SegmentChange{{Segment: "active", Entered: true, At: day(30)}, {Segment: "new", At: day(30)}},
		},
		{
			name: "noticed 75 days idle: at risk since day 60, active out when noticed",
			at:   day(75),
			want: []profile.SegmentChange{{Segment: "at_risk", Entered: true, At: day(60)}, {Segment: "active", At: day(75)}},
		},
		{name: "noticed again: nothing", at: day(75)},
		{
			name:   "a message sent is not activity: still at risk",
			events: []profile.Event{ev("n1", "notification.sent", day(76))},
			at:     day(76),
		},
		{
			name: "noticed 100 days idle: churned since day 90, at risk out",
			at:   day(100),
			want: []profile.SegmentChange{{Segment: "churned", Entered: true, At: day(90)}, {Segment: "at_risk", At: day(100)}},
		},
		{
			name: "back with a second order and a 10: repeat, vip and promoter in, churned out",
			events: []profile.Event{
				placed("e2", "o2", day(101), "IRT", "1250000"),
				responded("s1", "nps", 10, day(101).Add(time.Hour)),
			},
			at: day(101).Add(time.Hour),
			want: []profile.SegmentChange{
				{Segment: "promoter", Entered: true, At: day(101).Add(time.Hour)},
				{Segment: "repeat", Entered: true, At: day(101).Add(time.Hour)},
				{Segment: "vip", Entered: true, At: day(101).Add(time.Hour)},
				{Segment: "churned", At: day(101).Add(time.Hour)},
			},
		},
		{name: "evaluated again: nothing", at: day(101).Add(time.Hour)},
		{
			name:   "a refund takes revenue below the VIP threshold: vip out",
			events: []profile.Event{refunded("r1", "o2", day(102), "IRT", "250000")},
			at:     day(102),
			want:   []profile.SegmentChange{{Segment: "vip", At: day(102)}},
		},
	}
	for _, s := range steps {
		for _, e := range s.events {
			if !p.Apply(e) {
				t.Fatalf("%s: Apply(%s) = false", s.name, e.ID)
			}
		}
		check(t, s.name, p.UpdateSegments(s.at, rules), s.want)
	}
	check(t, "memberships recorded", p.Memberships, map[string]time.Time{
		"promoter": day(101).Add(time.Hour),
		"repeat":   day(101).Add(time.Hour),
	})
}

func TestDefaultRules(t *testing.T) {
	t.Parallel()
	r := profile.DefaultRules()
	check(t, "new for", r.NewFor, 30*24*time.Hour)
	check(t, "at risk after", r.AtRiskAfter, 60*24*time.Hour)
	check(t, "churned after", r.ChurnAfter, 90*24*time.Hour)
}
