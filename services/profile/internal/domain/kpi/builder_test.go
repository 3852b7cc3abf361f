package kpi

import (
	"fmt"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// customer builds a profile the way the fold does: one Apply per journey
// event, in the order given.
type customer struct {
	t          *testing.T
	p          *profile.Profile
	n          int
	touchpoint string // of the events to come
}

func newCustomer(t *testing.T, id string) *customer {
	t.Helper()
	return &customer{t: t, p: profile.New("shop", "p_"+id)}
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

func (c *customer) apply(typ, when string, e profile.Event) *customer {
	c.t.Helper()
	c.n++
	e.ID = fmt.Sprintf("%s-%d", c.p.ID, c.n)
	e.Type = typ
	e.OccurredAt = at(c.t, when)
	e.Identities = []profile.Identity{{Kind: profile.CustomerID, Value: c.p.ID}}
	e.Touchpoint = c.touchpoint
	if !c.p.Apply(e) {
		c.t.Fatalf("event %s not applied", e.ID)
	}
	return c
}

// through sends the customer's next events through touchpoint tp; none
// when empty.
func (c *customer) through(tp string) *customer {
	c.touchpoint = tp
	return c
}

func (c *customer) order(id, when, currency, amount string) *customer {
	return c.apply("order.placed", when, profile.Event{Order: &profile.OrderEvent{OrderID: id, Total: &profile.Money{Currency: currency, Amount: amount}}})
}

func (c *customer) cancel(id, when string) *customer {
	return c.apply("order.cancelled", when, profile.Event{Order: &profile.OrderEvent{OrderID: id}})
}

func (c *customer) refund(id, when, currency, amount string) *customer {
	return c.apply("order.refunded", when, profile.Event{Order: &profile.OrderEvent{OrderID: id, Amount: &profile.Money{Currency: currency, Amount: amount}}})
}

func (c *customer) view(when string) *customer {
	return c.apply("product.viewed", when, profile.Event{Product: &profile.Product{ID: "sku-1"}})
}

func (c *customer) nps(when string, score int32) *customer {
	return c.apply("survey.responded", when, profile.Event{Survey: &profile.SurveyEvent{SurveyID: "nps-1", Kind: "nps", Score: score}})
}

func (c *customer) notified(when string) *customer {
	return c.apply("notification.sent", when, profile.Event{})
}

func (c *customer) ticket(typ, id, when, topic string, firstContact bool) *customer {
	return c.apply("ticket."+typ, when, profile.Event{Ticket: &profile.TicketEvent{TicketID: id, Topic: topic, FirstContact: firstContact}})
}

func profiles(cs ...*customer) []*profile.Profile {
	var out []*profile.Profile
	for _, c := range cs {
		out = append(out, c.p)
	}
	return out
}
