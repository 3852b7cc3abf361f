package profile_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func TestFoldOrders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                           string
		events                         []profile.Event
		orders, cancellations, refunds int64
		first, last                    time.Time
		totals                         []profile.CurrencyTotals
	}{
		{
			name: "two IRT orders add up exactly: 960000 + 1250000 = 2210000",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				placed("e2", "o2", day(20), "IRT", "1250000"),
			},
			orders: 2, first: day(0), last: day(20),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 2, Revenue: "2210000", AOV: "1105000", Largest: "1250000", Refunded: "0", PreviousAOV: "960000"}},
		},
		{
			name: "paid, shipped and delivered keep one order and its total",
			events: []profile.Event{
				placed("e1", "o1", day(0), "USD", "49.9"),
				orderStep("e2", "order.paid", "o1", day(0).Add(time.Minute)),
				orderStep("e3", "order.shipped", "o1", day(1)),
				orderStep("e4", "order.delivered", "o1", day(3)),
			},
			orders: 1, first: day(0), last: day(0),
			totals: []profile.CurrencyTotals{{Currency: "USD", Orders: 1, Revenue: "49.9", AOV: "49.9", Largest: "49.9", Refunded: "0"}},
		},
		{
			name: "a cancelled order is an order and a cancellation, but not revenue, AOV or largest",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				placed("e2", "o2", day(5), "IRT", "1250000"),
				orderStep("e3", "order.cancelled", "o2", day(6)),
			},
			orders: 2, cancellations: 1, first: day(0), last: day(5),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 1, Revenue: "960000", AOV: "960000", Largest: "960000", Refunded: "0"}},
		},
		{
			name: "every order cancelled: no revenue line at all",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				orderStep("e2", "order.cancelled", "o1", day(0).Add(time.Hour)),
			},
			orders: 1, cancellations: 1, first: day(0), last: day(0),
		},
		{
			name: "two partial refunds of one order are both subtracted; AOV is net of refunds",
			events: []profile.Event{
				placed("e1", "o1", day(0), "USD", "120"),
				placed("e2", "o2", day(1), "USD", "80"),
				refunded("r1", "o1", day(3), "USD", "20.5"),
				refunded("r2", "o1", day(4), "USD", "9.5"),
			},
			orders: 2, refunds: 1, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{{Currency: "USD", Orders: 2, Revenue: "170", AOV: "85", Largest: "120", Refunded: "30", PreviousAOV: "90"}},
		},
		{
			name: "a refund on a cancelled order leaves revenue alone",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				placed("e2", "o2", day(2), "IRT", "500000"),
				orderStep("e3", "order.cancelled", "o2", day(2).Add(time.Hour)),
				refunded("r1", "o2", day(3), "IRT", "500000"),
			},
			orders: 2, cancellations: 1, refunds: 1, first: day(0), last: day(2),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 1, Revenue: "960000", AOV: "960000", Largest: "960000", Refunded: "0"}},
		},
		{
			name: "USD AOV rounds half-even down to the even cent: 20.01 / 2 = 10.005 -> 10.00",
			events: []profile.Event{
				placed("e1", "o1", day(0), "USD", "10.01"),
				placed("e2", "o2", day(1), "USD", "10"),
			},
			orders: 2, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{{Currency: "USD", Orders: 2, Revenue: "20.01", AOV: "10", Largest: "10.01", Refunded: "0", PreviousAOV: "10.01"}},
		},
		{
			name: "USD AOV rounds half-even up to the even cent: 20.03 / 2 = 10.015 -> 10.02",
			events: []profile.Event{
				placed("e1", "o1", day(0), "USD", "10.03"),
				placed("e2", "o2", day(1), "USD", "10"),
			},
			orders: 2, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{{Currency: "USD", Orders: 2, Revenue: "20.03", AOV: "10.02", Largest: "10.03", Refunded: "0", PreviousAOV: "10.03"}},
		},
		{
			name: "IRT AOV has no decimals: 200001 / 2 = 100000.5 -> 100000",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "100000"),
				placed("e2", "o2", day(1), "IRT", "100001"),
			},
			orders: 2, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 2, Revenue: "200001", AOV: "100000", Largest: "100001", Refunded: "0", PreviousAOV: "100000"}},
		},
		{
			name: "IRT AOV has no decimals: 200003 / 2 = 100001.5 -> 100002",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "100001"),
				placed("e2", "o2", day(1), "IRT", "100002"),
			},
			orders: 2, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 2, Revenue: "200003", AOV: "100002", Largest: "100002", Refunded: "0", PreviousAOV: "100001"}},
		},
		{
			name: "currencies are never added together and are listed by code",
			events: []profile.Event{
				placed("e1", "o1", day(1), "USD", "25.5"),
				placed("e2", "o2", day(0), "IRT", "960000"),
			},
			orders: 2, first: day(0), last: day(1),
			totals: []profile.CurrencyTotals{
				{Currency: "IRT", Orders: 1, Revenue: "960000", AOV: "960000", Largest: "960000", Refunded: "0"},
				{Currency: "USD", Orders: 1, Revenue: "25.5", AOV: "25.5", Largest: "25.5", Refunded: "0"},
			},
		},
		{
			name: "history arriving newest first: first, last and largest order by event time",
			events: []profile.Event{
				placed("e3", "o3", day(40), "IRT", "300000"),
				placed("e2", "o2", day(20), "IRT", "1250000"),
				placed("e1", "o1", day(0), "IRT", "960000"),
			},
			orders: 3, first: day(0), last: day(40),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 3, Revenue: "2510000", AOV: "836667", Largest: "1250000", Refunded: "0", PreviousAOV: "1105000"}},
		},
		{
			name: "order.paid arriving before order.placed still makes one order",
			events: []profile.Event{
				orderStep("e2", "order.paid", "o1", day(0).Add(time.Hour)),
				placed("e1", "o1", day(0), "IRT", "960000"),
			},
			orders: 1, first: day(0), last: day(0),
			totals: []profile.CurrencyTotals{{Currency: "IRT", Orders: 1, Revenue: "960000", AOV: "960000", Largest: "960000", Refunded: "0"}},
		},
		{
			name: "an order seen only through order.paid is not counted until it is placed",
			events: []profile.Event{
				orderStep("e2", "order.paid", "o1", day(0)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.events...).Commerce()
			check(t, "order count", c.OrderCount, tt.orders)
			check(t, "cancellations", c.Cancellations, tt.cancellations)
			check(t, "refunded orders", c.Refunds, tt.refunds)
			check(t, "first order", c.FirstOrder, tt.first)
			check(t, "last order", c.LastOrder, tt.last)
			check(t, "totals per currency", c.ByCurrency, tt.totals)
		})
	}
}

func TestFoldOrderSteps(t *testing.T) {
	t.Parallel()
	p := fold(t,
		orderStep("e4", "order.delivered", "o1", day(3)),
		placed("e1", "o1", day(0), "IRT", "960000", item(saffron, 2)),
		orderStep("e3", "order.shipped", "o1", day(1)),
		orderStep("e2", "order.paid", "o1", day(0).Add(time.Minute)),
	)
	o := p.Orders["o1"]
	if o == nil {
		t.Fatal("order o1 missing from the profile")
	}
	check(t, "placed", o.PlacedAt, day(0))
	check(t, "paid", o.PaidAt, day(0).Add(time.Minute))
	check(t, "shipped", o.ShippedAt, day(1))
	check(t, "delivered", o.DeliveredAt, day(3))
	check(t, "total", o.Total, &profile.Money{Currency: "IRT", Amount: "960000"})
	check(t, "items", o.Items, []profile.Item{item(saffron, 2)})
	check(t, "cancelled", o.CancelledAt.IsZero(), true)
}

func TestFoldProductViewed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []profile.Event
		want   []profile.View
	}{
		{
			name:   "viewed twice and not bought: listed with first-viewed time and count",
			events: []profile.Event{viewed("v1", day(1), saffron), viewed("v2", day(3), saffron)},
			want:   []profile.View{{Product: saffron, First: day(1), Last: day(3), Count: 2}},
		},
		{
			name:   "views arriving newest first keep the earliest first-viewed time",
			events: []profile.Event{viewed("v2", day(3), saffron), viewed("v1", day(1), saffron)},
			want:   []profile.View{{Product: saffron, First: day(1), Last: day(3), Count: 2}},
		},
		{
			name: "buying the product removes it",
			events: []profile.Event{
				viewed("v1", day(1), saffron),
				placed("e1", "o1", day(2), "IRT", "960000", item(saffron, 1)),
			},
		},
		{
			name: "buying it removes it even when the order arrives before the view",
			events: []profile.Event{
				placed("e1", "o1", day(2), "IRT", "960000", item(saffron, 1)),
				viewed("v1", day(1), saffron),
			},
		},
		{
			name: "viewed only after buying it: listed again, dated from the first view after the purchase",
			events: []profile.Event{
				placed("e1", "o1", day(1), "IRT", "960000", item(saffron, 1)),
				viewed("v1", day(5), saffron),
			},
			want: []profile.View{{Product: saffron, First: day(5), Last: day(5), Count: 1}},
		},
		{
			name: "viewed before and after buying it: not listed, the view before the purchase hides the one after",
			events: []profile.Event{
				viewed("v1", day(0), saffron),
				placed("e1", "o1", day(1), "IRT", "960000", item(saffron, 1)),
				viewed("v2", day(5), saffron),
			},
		},
		{
			name: "bought in an order that was cancelled: still viewed and not bought",
			events: []profile.Event{
				viewed("v1", day(1), saffron),
				placed("e1", "o1", day(2), "IRT", "960000", item(saffron, 1)),
				orderStep("e2", "order.cancelled", "o1", day(3)),
			},
			want: []profile.View{{Product: saffron, First: day(1), Last: day(1), Count: 1}},
		},
		{
			name: "several products: most recently viewed first",
			events: []profile.Event{
				viewed("v1", day(1), saffron),
				viewed("v2", day(4), rug),
				viewed("v3", day(2), tea),
			},
			want: []profile.View{
				{Product: rug, First: day(4), Last: day(4), Count: 1},
				{Product: tea, First: day(2), Last: day(2), Count: 1},
				{Product: saffron, First: day(1), Last: day(1), Count: 1},
			},
		},
		{
			name:   "a view without a product id is ignored",
			events: []profile.Event{viewed("v1", day(1), profile.Product{Name: "no id"})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "viewed not bought", fold(t, tt.events...).Commerce().ViewedNotBought, tt.want)
		})
	}
}

func TestFoldAffinityAndFavourites(t *testing.T) {
	t.Parallel()
	products := make([]profile.Product, 7)
	for i := range products {
		products[i] = profile.Product{ID: string(rune('a' + i)), Name: "product " + string(rune('A'+i)), Category: "spices"}
	}
	tests := []struct {
		name                 string
		events               []profile.Event
		products, categories []profile.Affinity
		favourites           []string
	}{
		{
			name: "purchases count quantities of live orders, views count views; most bought first",
			events: []profile.Event{
				placed("e1", "o1", day(2), "IRT", "960000", item(saffron, 2), item(tea, 1)),
				placed("e2", "o2", day(10), "IRT", "400000", item(saffron, 1)),
				placed("e3", "o3", day(11), "IRT", "9000000", item(rug, 1)),
				orderStep("e4", "order.cancelled", "o3", day(11).Add(time.Hour)),
				viewed("v1", day(1), saffron),
				viewed("v2", day(3), rug),
				viewed("v3", day(4), rug),
				viewed("v4", day(5), rug),
			},
			products: []profile.Affinity{
				{Key: saffron.ID, Name: saffron.Name, Purchases: 3, Views: 1},
				{Key: tea.ID, Name: tea.Name, Purchases: 1},
				{Key: rug.ID, Name: rug.Name, Views: 3},
			},
			categories: []profile.Affinity{
				{Key: "spices", Purchases: 3, Views: 1},
				{Key: "drinks", Purchases: 1},
				{Key: "home", Views: 3},
			},
			favourites: []string{saffron.ID, tea.ID},
		},
		{
			name: "favourites are at most the five most bought products",
			events: []profile.Event{
				placed("e1", "o1", day(1), "USD", "100",
					item(products[0], 1), item(products[1], 7), item(products[2], 2),
					item(products[3], 6), item(products[4], 3), item(products[5], 5), item(products[6], 4)),
			},
			products: []profile.Affinity{
				{Key: "b", Name: "product B", Purchases: 7},
				{Key: "d", Name: "product D", Purchases: 6},
				{Key: "f", Name: "product F", Purchases: 5},
				{Key: "g", Name: "product G", Purchases: 4},
				{Key: "e", Name: "product E", Purchases: 3},
				{Key: "c", Name: "product C", Purchases: 2},
				{Key: "a", Name: "product A", Purchases: 1},
			},
			categories: []profile.Affinity{{Key: "spices", Purchases: 28}},
			favourites: []string{"b", "d", "f", "g", "e"},
		},
		{
			name:       "only viewed: affinity without favourites",
			events:     []profile.Event{viewed("v1", day(1), tea), viewed("v2", day(2), saffron), viewed("v3", day(3), tea)},
			products:   []profile.Affinity{{Key: tea.ID, Name: tea.Name, Views: 2}, {Key: saffron.ID, Name: saffron.Name, Views: 1}},
			categories: []profile.Affinity{{Key: "drinks", Views: 2}, {Key: "spices", Views: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.events...).Commerce()
			check(t, "product affinity", c.Products, tt.products)
			check(t, "category affinity", c.Categories, tt.categories)
			check(t, "favourites", c.Favourites, tt.favourites)
		})
	}
}

func TestFoldCustomerUpdated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []profile.Event
		want   plainTraits
	}{
		{
			name: "fields are set one by one; an empty field keeps what was there",
			events: []profile.Event{
				updated("u1", day(1), profile.TraitsEvent{FirstName: "Ali", Locale: "fa"}),
				updated("u2", day(2), profile.TraitsEvent{LastName: "Rezaei", TimeZone: "Asia/Tehran", PreferredChannel: "sms"}),
			},
			want: plainTraits{FirstName: "Ali", LastName: "Rezaei", Locale: "fa", TimeZone: "Asia/Tehran", Channel: "sms"},
		},
		{
			name: "the later event time wins even when it arrives first",
			events: []profile.Event{
				updated("u2", day(5), profile.TraitsEvent{Locale: "fa", PreferredChannel: "sms"}),
				updated("u1", day(1), profile.TraitsEvent{Locale: "en", PreferredChannel: "email", FirstName: "Ali"}),
			},
			want: plainTraits{FirstName: "Ali", Locale: "fa", Channel: "sms"},
		},
		{
			name: "consent per channel: a withdrawal at a later event time wins, an older grant arriving late does not",
			events: []profile.Event{
				updated("u1", day(1), profile.TraitsEvent{Consents: map[string]bool{"email": true, "sms": true}}),
				updated("u2", day(4), profile.TraitsEvent{Consents: map[string]bool{"sms": false}}),
				updated("u0", day(0), profile.TraitsEvent{Consents: map[string]bool{"email": false, "sms": true, "push": true}}),
			},
			want: plainTraits{Consents: map[string]bool{"email": true, "sms": false, "push": true}},
		},
		{
			name: "custom traits per key by event time",
			events: []profile.Event{
				updated("u1", day(1), profile.TraitsEvent{Custom: map[string]string{"tier": "gold", "city": "Tehran"}}),
				updated("u3", day(3), profile.TraitsEvent{Custom: map[string]string{"tier": "silver"}}),
				updated("u2", day(2), profile.TraitsEvent{Custom: map[string]string{"tier": "bronze", "city": "Shiraz"}}),
			},
			want: plainTraits{Custom: map[string]string{"tier": "silver", "city": "Shiraz"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "traits", plain(fold(t, tt.events...).Traits), tt.want)
		})
	}
}

func TestFoldTickets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []profile.Event
		want   profile.Support
	}{
		{
			name:   "an opened ticket is open",
			events: []profile.Event{ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1))},
			want:   profile.Support{Open: 1, Total: 1, LastTopic: "late delivery", LastTicketAt: day(1)},
		},
		{
			name: "a resolved ticket is closed",
			events: []profile.Event{
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
				ticketEv("t2", "ticket.resolved", "T-1", "", day(2)),
			},
			want: profile.Support{Total: 1, LastTopic: "late delivery", LastTicketAt: day(1)},
		},
		{
			name: "reopened after resolution: open again and counted as reopened",
			events: []profile.Event{
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
				ticketEv("t2", "ticket.resolved", "T-1", "", day(2)),
				ticketEv("t3", "ticket.reopened", "T-1", "", day(4)),
			},
			want: profile.Support{Open: 1, Total: 1, Reopened: 1, LastTopic: "late delivery", LastTicketAt: day(1)},
		},
		{
			name: "the resolution arriving before the opening still closes the ticket",
			events: []profile.Event{
				ticketEv("t2", "ticket.resolved", "T-1", "", day(2)),
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
			},
			want: profile.Support{Total: 1, LastTopic: "late delivery", LastTicketAt: day(1)},
		},
		{
			name: "a late resolution older than the reopening leaves the ticket open",
			events: []profile.Event{
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
				ticketEv("t3", "ticket.reopened", "T-1", "", day(4)),
				ticketEv("t2", "ticket.resolved", "T-1", "", day(2)),
			},
			want: profile.Support{Open: 1, Total: 1, Reopened: 1, LastTopic: "late delivery", LastTicketAt: day(1)},
		},
		{
			name: "a message does not change the state; a new topic on it does change the topic",
			events: []profile.Event{
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
				ticketEv("t2", "ticket.message", "T-1", "damaged parcel", day(2)),
			},
			want: profile.Support{Open: 1, Total: 1, LastTopic: "damaged parcel", LastTicketAt: day(1)},
		},
		{
			name: "the last topic is the most recently opened ticket's, whatever the arrival order",
			events: []profile.Event{
				ticketEv("t2", "ticket.opened", "T-2", "refund", day(5)),
				ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
				ticketEv("t3", "ticket.resolved", "T-1", "", day(6)),
			},
			want: profile.Support{Open: 1, Total: 2, LastTopic: "refund", LastTicketAt: day(5)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "support", fold(t, tt.events...).Support(), tt.want)
		})
	}
}

func TestFoldTicketResolution(t *testing.T) {
	t.Parallel()
	p := fold(t,
		ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)),
		ticketEv("t4", "ticket.resolved", "T-1", "", day(6)),
		ticketEv("t2", "ticket.resolved", "T-1", "", day(2)),
		ticketEv("t3", "ticket.reopened", "T-1", "", day(4)),
	)
	tk := p.Tickets["T-1"]
	if tk == nil {
		t.Fatal("ticket T-1 missing")
	}
	check(t, "opened", tk.OpenedAt, day(1))
	check(t, "resolved at the latest resolution", tk.ResolvedAt, day(6))
	check(t, "state", tk.State.V, "resolved")
	check(t, "reopens", tk.Reopens, map[string]time.Time{"t3": day(4)})
}

func TestFoldSurveyResponded(t *testing.T) {
	t.Parallel()
	categories := []struct {
		score int32
		want  string
	}{
		{0, "detractor"}, {3, "detractor"}, {6, "detractor"},
		{7, "passive"}, {8, "passive"},
		{9, "promoter"}, {10, "promoter"},
	}
	for _, c := range categories {
		t.Run(fmt.Sprintf("NPS %d is a %s", c.score, c.want), func(t *testing.T) {
			t.Parallel()
			p := fold(t, responded("s1", "nps", c.score, day(1)))
			check(t, "NPS category", p.NPSCategory(), c.want)
		})
	}

	tests := []struct {
		name     string
		events   []profile.Event
		category string
		scores   map[string]int32
	}{
		{
			name:     "no NPS answer: no category",
			events:   []profile.Event{responded("s1", "csat", 5, day(1))},
			category: "",
			scores:   map[string]int32{"csat": 5},
		},
		{
			name:     "the latest NPS answer by event time decides, even arriving first",
			events:   []profile.Event{responded("s2", "nps", 3, day(5)), responded("s1", "nps", 10, day(2))},
			category: "detractor",
			scores:   map[string]int32{"nps": 3},
		},
		{
			name:     "a newer answer replaces an older one",
			events:   []profile.Event{responded("s1", "nps", 3, day(2)), responded("s2", "nps", 9, day(5))},
			category: "promoter",
			scores:   map[string]int32{"nps": 9},
		},
		{
			name: "one latest score per kind",
			events: []profile.Event{
				responded("s1", "nps", 8, day(1)),
				responded("s2", "csat", 2, day(2)),
				responded("s3", "ces", 4, day(3)),
				responded("s4", "csat", 5, day(4)),
			},
			category: "passive",
			scores:   map[string]int32{"nps": 8, "csat": 5, "ces": 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := fold(t, tt.events...)
			check(t, "NPS category", p.NPSCategory(), tt.category)
			got := map[string]int32{}
			for k, s := range p.Scores {
				got[k] = s.Score
			}
			check(t, "latest scores", got, tt.scores)
		})
	}
}

func TestFoldSurveyKeepsTouchpointAndDate(t *testing.T) {
	t.Parallel()
	e := responded("s1", "nps", 9, day(4))
	e.Touchpoint = "delivery"
	s := fold(t, e).Scores["nps"]
	if s == nil {
		t.Fatal("no NPS score")
	}
	check(t, "survey", s.SurveyID, "survey-nps")
	check(t, "score", s.Score, int32(9))
	check(t, "touchpoint", s.Touchpoint, "delivery")
	check(t, "answered at", s.At, day(4))
}

func TestFoldTouchpointOfOrdersAndTickets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		events        []profile.Event
		order, ticket string
	}{
		{
			name: "an order is where it was placed, a ticket where it was opened",
			events: []profile.Event{
				via(placed("e1", "o1", day(0), "IRT", "960000"), "app"),
				via(ticketEv("e2", "ticket.opened", "T-1", "late delivery", day(1)), "chat"),
			},
			order: "app", ticket: "chat",
		},
		{
			name: "later steps through other touchpoints do not move them",
			events: []profile.Event{
				via(placed("e1", "o1", day(0), "IRT", "960000"), "app"),
				via(orderStep("e2", "order.paid", "o1", day(0).Add(time.Minute)), "web"),
				via(orderStep("e3", "order.delivered", "o1", day(3)), "store"),
				via(ticketEv("e4", "ticket.opened", "T-1", "late delivery", day(4)), "chat"),
				via(ticketEv("e5", "ticket.message", "T-1", "", day(4).Add(time.Hour)), "email"),
				via(ticketEv("e6", "ticket.resolved", "T-1", "", day(5)), "phone"),
				via(ticketEv("e7", "ticket.reopened", "T-1", "", day(6)), "email"),
			},
			order: "app", ticket: "chat",
		},
		{
			name: "steps arriving before the opening event do not set them",
			events: []profile.Event{
				via(orderStep("e2", "order.paid", "o1", day(0).Add(time.Minute)), "web"),
				via(placed("e1", "o1", day(0), "IRT", "960000"), "app"),
				via(ticketEv("e6", "ticket.resolved", "T-1", "", day(5)), "phone"),
				via(ticketEv("e4", "ticket.opened", "T-1", "late delivery", day(4)), "chat"),
			},
			order: "app", ticket: "chat",
		},
		{
			name: "opened without a touchpoint: unknown, whatever the later steps say",
			events: []profile.Event{
				placed("e1", "o1", day(0), "IRT", "960000"),
				via(orderStep("e2", "order.paid", "o1", day(0).Add(time.Minute)), "web"),
				ticketEv("e4", "ticket.opened", "T-1", "late delivery", day(4)),
				via(ticketEv("e5", "ticket.message", "T-1", "", day(4).Add(time.Hour)), "chat"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := fold(t, tt.events...)
			check(t, "order touchpoint", p.Orders["o1"].Touchpoint, tt.order)
			check(t, "ticket touchpoint", p.Tickets["T-1"].Touchpoint, tt.ticket)

			// Profiles are stored as JSON: the touchpoints must survive it.
			var stored profile.Profile
			if err := json.Unmarshal([]byte(snapshot(t, p)), &stored); err != nil {
				t.Fatal(err)
			}
			check(t, "stored order touchpoint", stored.Orders["o1"].Touchpoint, tt.order)
			check(t, "stored ticket touchpoint", stored.Tickets["T-1"].Touchpoint, tt.ticket)
		})
	}
}

// LastActivity moves with what the customer did, not with what Bazgasht
// did to them: a trait a trigger rule set, a message, a segment change or
// an invitation leaves it where the customer's last order put it.
func TestFoldLastActivityIsTheCustomersOwn(t *testing.T) {
	t.Parallel()
	byRule := updated("u-rule", day(5), profile.TraitsEvent{Custom: map[string]string{"winback_sent": "yes"}})
	byRule.Source = "trigger"
	byShop := updated("u-shop", day(6), profile.TraitsEvent{Custom: map[string]string{"tier": "gold"}})
	byShop.Source = "api"
	answer := responded("s-1", "nps", 9, day(7))
	answer.Source = "survey"
	tests := []struct {
		name   string
		events []profile.Event
		want   time.Time
	}{
		{"an order", []profile.Event{placed("o1", "1", day(1), "IRT", "100")}, day(1)},
		{"then things done to the customer", []profile.Event{placed("o1", "1", day(1), "IRT", "100"), byRule,
			ev("n-1", "notification.sent", day(5)), ev("seg-1", "segment.entered", day(5)), ev("inv-1", "survey.invited", day(5))}, day(1)},
		{"then traits from the shop", []profile.Event{placed("o1", "1", day(1), "IRT", "100"), byRule, byShop}, day(6)},
		{"then a survey answer", []profile.Event{placed("o1", "1", day(1), "IRT", "100"), byRule, answer}, day(7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "last activity", fold(t, tt.events...).LastActivity, tt.want)
		})
	}
}

// TestApplyIsExactlyOnce delivers each kind of event again — at once, and a
// "week later" after other events — and checks nothing changes.
func TestApplyIsExactlyOnce(t *testing.T) {
	t.Parallel()
	history := journey()
	changed := placed("e04", "o1", day(0), "IRT", "99999999") // same id, different body
	tests := []struct {
		name  string
		after int // events of the journey applied before the duplicate
		dup   profile.Event
	}{
		{"order.placed again at once", 4, history[3]},
		{"order.placed again a week later", len(history), history[3]},
		{"order.placed again with a different body", len(history), changed},
		{"order.refunded again", len(history), history[12]},
		{"product.viewed again (view count unchanged)", len(history), history[0]},
		{"customer.updated again", len(history), history[2]},
		{"ticket.opened again", len(history), history[8]},
		{"ticket.resolved again", len(history), history[9]},
		{"survey.responded again", len(history), history[7]},
		{"notification.sent again", len(history), history[15]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := fold(t, history[:tt.after]...)
			before := snapshot(t, p)
			if p.Apply(tt.dup) {
				t.Fatalf("Apply(%s) = true for an event applied before", tt.dup.ID)
			}
			if after := snapshot(t, p); after != before {
				t.Errorf("a duplicate changed the profile:\nbefore %s\nafter  %s", before, after)
			}
			if !p.HasApplied(tt.dup.ID) {
				t.Errorf("HasApplied(%s) = false", tt.dup.ID)
			}
		})
	}
}

// TestFoldIsOrderIndependent applies one customer's journey in the order the
// stream had it, reversed (an imported history) and shuffled, and checks that
// everything an agent reads is the same.
func TestFoldIsOrderIndependent(t *testing.T) {
	t.Parallel()
	history := journey()
	want := readViews(fold(t, history...))

	reversed := slices.Clone(history)
	slices.Reverse(reversed)
	orders := map[string][]profile.Event{"fully reversed": reversed}
	for _, seed := range []uint64{1, 2, 3, 7, 42, 2025} {
		s := slices.Clone(history)
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		orders[fmt.Sprintf("shuffled with seed %d", seed)] = s
	}
	var odd, even []profile.Event
	for i, e := range history {
		if i%2 == 0 {
			even = append(even, e)
		} else {
			odd = append(odd, e)
		}
	}
	orders["odd events first, then even"] = append(odd, even...)

	for name, events := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, "what an agent reads", readViews(fold(t, events...)), want)
		})
	}
}

// TestFoldSameEventTimeIsOrderIndependent: shops stamp events to the second,
// so two events of one customer often share an event time. The package
// promises that any order of the same events gives the same profile.
func TestFoldSameEventTimeIsOrderIndependent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b profile.Event
	}{
		{
			name: "two customer.updated in the same second with different locales",
			a:    updated("u-a", day(3), profile.TraitsEvent{Locale: "fa"}),
			b:    updated("u-b", day(3), profile.TraitsEvent{Locale: "en"}),
		},
		{
			name: "two NPS answers in the same second",
			a:    responded("s-a", "nps", 10, day(3)),
			b:    responded("s-b", "nps", 2, day(3)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ab, ba := fold(t, tt.a, tt.b), fold(t, tt.b, tt.a)
			check(t, "traits, b applied before a vs a before b", plain(ba.Traits), plain(ab.Traits))
			check(t, "NPS category, b applied before a vs a before b", ba.NPSCategory(), ab.NPSCategory())
		})
	}
}

// ---- helpers shared by the tests of this package ----

// t0 is the morning the demo customer's history starts.
var t0 = time.Date(2025, time.March, 1, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

var (
	aliEmail = profile.Identity{Kind: profile.Email, Value: "Ali.Rezaei@Example.com"}
	aliPhone = profile.Identity{Kind: profile.Phone, Value: "+98 912 345 6789"}
	aliID    = profile.Identity{Kind: profile.CustomerID, Value: "C-1001"}
	visitor  = profile.Identity{Kind: profile.AnonymousID, Value: "anon-7f3a"}

	saffron = profile.Product{ID: "saffron-5g", Name: "Saffron 5 g", Category: "spices"}
	tea     = profile.Product{ID: "tea-lahijan", Name: "Lahijan tea", Category: "drinks"}
	rug     = profile.Product{ID: "rug-kashan", Name: "Kashan rug", Category: "home"}
)

func ev(id, typ string, at time.Time) profile.Event {
	return profile.Event{ID: id, Type: typ, OccurredAt: at, Identities: []profile.Identity{aliEmail}}
}

// as sends e as the customer known by ids.
func as(e profile.Event, ids ...profile.Identity) profile.Event {
	e.Identities = ids
	return e
}

// via sends e through touchpoint tp.
func via(e profile.Event, tp string) profile.Event {
	e.Touchpoint = tp
	return e
}

func placed(id, order string, at time.Time, currency, amount string, items ...profile.Item) profile.Event {
	e := ev(id, "order.placed", at)
	e.Order = &profile.OrderEvent{OrderID: order, Total: &profile.Money{Currency: currency, Amount: amount}, Items: items}
	return e
}

func orderStep(id, typ, order string, at time.Time) profile.Event {
	e := ev(id, typ, at)
	e.Order = &profile.OrderEvent{OrderID: order}
	return e
}

func refunded(id, order string, at time.Time, currency, amount string) profile.Event {
	e := ev(id, "order.refunded", at)
	e.Order = &profile.OrderEvent{OrderID: order, Amount: &profile.Money{Currency: currency, Amount: amount}}
	return e
}

func item(p profile.Product, q int64) profile.Item { return profile.Item{Product: p, Quantity: q} }

func viewed(id string, at time.Time, p profile.Product) profile.Event {
	e := ev(id, "product.viewed", at)
	e.Product = &p
	return e
}

func updated(id string, at time.Time, t profile.TraitsEvent) profile.Event {
	e := ev(id, "customer.updated", at)
	e.Traits = &t
	return e
}

func ticketEv(id, typ, ticket, topic string, at time.Time) profile.Event {
	e := ev(id, typ, at)
	e.Ticket = &profile.TicketEvent{TicketID: ticket, Topic: topic, FirstContact: typ == "ticket.resolved"}
	return e
}

func responded(id, kind string, score int32, at time.Time) profile.Event {
	e := ev(id, "survey.responded", at)
	e.Survey = &profile.SurveyEvent{SurveyID: "survey-" + kind, Kind: kind, Score: score}
	return e
}

// journey is one customer's realistic history in stream order: browsing as
// a visitor, signing up, two orders, a ticket, two NPS answers, a refund, a
// cancelled order and messages Bazgasht sent.
func journey() []profile.Event {
	return []profile.Event{
		as(viewed("e01", day(0), saffron), visitor),                // 0
		as(viewed("e02", day(0).Add(5*time.Minute), rug), visitor), // 1
		as(updated("e03", day(0).Add(20*time.Minute), profile.TraitsEvent{ // 2
			FirstName: "Ali", Locale: "fa", PreferredChannel: "sms",
			Consents: map[string]bool{"email": true, "sms": true},
		}), aliEmail, visitor),
		placed("e04", "o1", day(0).Add(30*time.Minute), "IRT", "960000", item(saffron, 2)), // 3
		orderStep("e05", "order.paid", "o1", day(0).Add(31*time.Minute)),                   // 4
		orderStep("e06", "order.shipped", "o1", day(2)),                                    // 5
		orderStep("e07", "order.delivered", "o1", day(4)),                                  // 6
		responded("e08", "nps", 6, day(5)),                                                 // 7
		as(ticketEv("e09", "ticket.opened", "T-1", "late delivery", day(6)), aliPhone),     // 8
		ticketEv("e10", "ticket.resolved", "T-1", "", day(7)),                              // 9
		updated("e11", day(12), profile.TraitsEvent{Locale: "en", Consents: map[string]bool{"sms": false}, Custom: map[string]string{"city": "Tehran"}}), // 10
		placed("e12", "o2", day(20), "IRT", "1250000", item(rug, 1), item(tea, 3)),                                                                       // 11
		refunded("e13", "o2", day(23), "IRT", "250000"),                                                                                                  // 12
		responded("e14", "nps", 9, day(25)),                                                                                                              // 13
		as(viewed("e15", day(26), tea), visitor),                                                                                                         // 14
		ev("e16", "notification.sent", day(27)),                                                                                                          // 15
		placed("e17", "o3", day(28), "USD", "40", item(rug, 1)),                                                                                          // 16
		orderStep("e18", "order.cancelled", "o3", day(28).Add(time.Hour)),                                                                                // 17
	}
}

// testRules are the default lifecycle rules with a VIP threshold in tomans.
func testRules() profile.Rules {
	r := profile.DefaultRules()
	r.VIPRevenue = profile.Amounts{"IRT": "2000000"}
	return r
}

// views is everything a CX agent reads from a profile.
type views struct {
	Commerce     profile.Commerce
	Support      profile.Support
	NPS          string
	Scores       map[string]profile.Score
	Stages       map[string]profile.Stage
	Segments     map[string][]string
	Traits       profile.Traits
	Identities   []profile.Identity
	FirstSeen    time.Time
	LastActivity time.Time
	Applied      []profile.EventRef // sorted by id: a set
}

func readViews(p *profile.Profile) views {
	v := views{
		Commerce:     p.Commerce(),
		Support:      p.Support(),
		NPS:          p.NPSCategory(),
		Scores:       map[string]profile.Score{},
		Stages:       map[string]profile.Stage{},
		Segments:     map[string][]string{},
		Traits:       p.Traits,
		Identities:   p.Identities,
		FirstSeen:    p.FirstSeen,
		LastActivity: p.LastActivity,
		Applied:      slices.Clone(p.Applied),
	}
	for k, s := range p.Scores {
		v.Scores[k] = *s
	}
	for _, d := range []int{0, 1, 10, 29, 40, 60, 88, 120, 400} {
		now := day(d)
		v.Stages[now.Format(time.DateOnly)] = p.Stage(now, testRules())
		v.Segments[now.Format(time.DateOnly)] = p.Segments(now, testRules())
	}
	slices.SortFunc(v.Applied, func(a, b profile.EventRef) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return v
}

// plainTraits are the trait values without their timestamps.
type plainTraits struct {
	FirstName, LastName, Locale, TimeZone, Channel string
	Consents                                       map[string]bool
	Custom                                         map[string]string
}

func plain(t profile.Traits) plainTraits {
	p := plainTraits{
		FirstName: t.FirstName.V, LastName: t.LastName.V, Locale: t.Locale.V,
		TimeZone: t.TimeZone.V, Channel: t.PreferredChannel.V,
	}
	for ch, s := range t.Consents {
		if p.Consents == nil {
			p.Consents = map[string]bool{}
		}
		p.Consents[ch] = s.V
	}
	for k, s := range t.Custom {
		if p.Custom == nil {
			p.Custom = map[string]string{}
		}
		p.Custom[k] = s.V
	}
	return p
}

// fold applies events to a new profile, each of which must be new.
func fold(t *testing.T, events ...profile.Event) *profile.Profile {
	t.Helper()
	p := profile.New("demo", "p_test")
	for _, e := range events {
		if !p.Apply(e) {
			t.Fatalf("Apply(%s) = false for a new event", e.ID)
		}
	}
	return p
}

// snapshot is the whole profile as it would be stored.
func snapshot(t *testing.T, p *profile.Profile) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func check[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
