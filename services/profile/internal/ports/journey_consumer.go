// Package ports is how the world reaches the profile service: the JOURNEY
// consumer that folds events in, and the gRPC ProfileService that reads
// profiles, timelines, segments and KPIs.
package ports

import (
	"context"
	"errors"
	"fmt"
	"strings"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// Folder is the use case the consumer drives.
type Folder interface {
	Handle(ctx context.Context, batch []app.ApplyEvent) []error
}

// FoldHandler adapts the fold to the journey consume loop: it decodes each
// event into the domain's terms and hands the batch over.
func FoldHandler(f Folder) journeystream.Handler {
	return func(ctx context.Context, batch []*journeystream.Delivery) []error {
		errs := make([]error, len(batch))
		items := make([]app.ApplyEvent, 0, len(batch))
		at := make([]int, 0, len(batch))
		for i, d := range batch {
			tenant := d.Event.GetTenant()
			if err := journey.CheckTenant(tenant); err != nil {
				errs[i] = fmt.Errorf("%w: invalid journey event: %v", journeystream.ErrPermanent, err)
				continue
			}
			items = append(items, app.ApplyEvent{Tenant: tenant, Event: ToDomain(d.Event, d.Seq), Settle: settler(d)})
			at = append(at, i)
		}
		for j, err := range f.Handle(ctx, items) {
			if errors.Is(err, app.ErrHeld) {
				err = journeystream.ErrHeld // acknowledged once its change is written
			}
			errs[at[j]] = err
		}
		return errs
	}
}

// ToDomain converts a journey event into what the fold needs of it.
func ToDomain(ev *journeyv1.JourneyEvent, seq uint64) profile.Event {
	e := profile.Event{
		ID:         ev.GetId(),
		Type:       ev.GetType(),
		Source:     ev.GetSource(),
		Seq:        seq,
		OccurredAt: ev.GetOccurredAt().AsTime(),
		Touchpoint: ev.GetContext().GetChannel(),
	}
	e.Identities = identitiesOf(ev.GetCustomer())
	switch p := ev.GetPayload().(type) {
	case *journeyv1.JourneyEvent_OrderPlaced:
		e.Order = &profile.OrderEvent{OrderID: p.OrderPlaced.GetOrderId(), Total: money(p.OrderPlaced.GetTotal()), Items: items(p.OrderPlaced.GetItems())}
	case *journeyv1.JourneyEvent_OrderPaid:
		e.Order = &profile.OrderEvent{OrderID: p.OrderPaid.GetOrderId(), Amount: money(p.OrderPaid.GetAmount())}
	case *journeyv1.JourneyEvent_OrderShipped:
		e.Order = &profile.OrderEvent{OrderID: p.OrderShipped.GetOrderId()}
	case *journeyv1.JourneyEvent_OrderDelivered:
		e.Order = &profile.OrderEvent{OrderID: p.OrderDelivered.GetOrderId()}
	case *journeyv1.JourneyEvent_OrderCancelled:
		e.Order = &profile.OrderEvent{OrderID: p.OrderCancelled.GetOrderId()}
	case *journeyv1.JourneyEvent_OrderRefunded:
		e.Order = &profile.OrderEvent{OrderID: p.OrderRefunded.GetOrderId(), Amount: money(p.OrderRefunded.GetAmount()), Items: items(p.OrderRefunded.GetItems())}
	case *journeyv1.JourneyEvent_ProductViewed:
		pr := product(p.ProductViewed.GetProduct())
		e.Product = &pr
	case *journeyv1.JourneyEvent_CustomerUpdated:
		e.Traits = traits(p.CustomerUpdated)
	case *journeyv1.JourneyEvent_TicketOpened:
		e.Ticket = &profile.TicketEvent{TicketID: p.TicketOpened.GetTicketId(), Topic: p.TicketOpened.GetTopic()}
	case *journeyv1.JourneyEvent_TicketMessage:
		e.Ticket = &profile.TicketEvent{TicketID: p.TicketMessage.GetTicketId()}
	case *journeyv1.JourneyEvent_TicketResolved:
		e.Ticket = &profile.TicketEvent{TicketID: p.TicketResolved.GetTicketId(), Topic: p.TicketResolved.GetTopic(), FirstContact: p.TicketResolved.GetFirstContact()}
	case *journeyv1.JourneyEvent_TicketReopened:
		e.Ticket = &profile.TicketEvent{TicketID: p.TicketReopened.GetTicketId()}
	case *journeyv1.JourneyEvent_SurveyResponded:
		s := p.SurveyResponded
		e.Survey = &profile.SurveyEvent{SurveyID: s.GetSurveyId(), Kind: surveyKind(s.GetKind()), Score: s.GetScore()}
		if tp := s.GetTouchpoint(); tp != "" {
			e.Touchpoint = tp
		}
	case *journeyv1.JourneyEvent_SegmentEntered:
		e.Segment = p.SegmentEntered.GetSegment()
	case *journeyv1.JourneyEvent_SegmentExited:
		e.Segment = p.SegmentExited.GetSegment()
	}
	return e
}

// identitiesOf lists a customer's identities, normalised, in order of
// authority: customer id, email, phone, anonymous id.
func identitiesOf(c *journeyv1.Customer) []profile.Identity {
	var ids []profile.Identity
	for _, id := range []profile.Identity{
		{Kind: profile.CustomerID, Value: c.GetCustomerId()},
		{Kind: profile.Email, Value: c.GetEmail()},
		{Kind: profile.Phone, Value: c.GetPhone()},
		{Kind: profile.AnonymousID, Value: c.GetAnonymousId()},
	} {
		if n := id.Normalized(); n.Value != "" {
			ids = append(ids, n)
		}
	}
	return ids
}

func money(m *journeyv1.Money) *profile.Money {
	if m == nil {
		return nil
	}
	return &profile.Money{Currency: m.GetCurrency(), Amount: m.GetAmount()}
}

func product(p *journeyv1.Product) profile.Product {
	return profile.Product{ID: p.GetProductId(), Name: p.GetName(), Category: p.GetCategory(), Price: money(p.GetPrice()), URL: p.GetUrl(), ImageURL: p.GetImageUrl()}
}

func items(in []*journeyv1.LineItem) []profile.Item {
	out := make([]profile.Item, len(in))
	for i, it := range in {
		out[i] = profile.Item{Product: product(it.GetProduct()), Quantity: int64(it.GetQuantity())}
	}
	return out
}

// ChannelName is the profile's name of a channel: "email", "sms", ...
func ChannelName(c journeyv1.Channel) string {
	if c == journeyv1.Channel_CHANNEL_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(c.String(), "CHANNEL_"))
}

func traits(u *journeyv1.CustomerUpdated) *profile.TraitsEvent {
	t := &profile.TraitsEvent{FirstName: u.GetFirstName(), LastName: u.GetLastName(), Locale: u.GetLocale(), TimeZone: u.GetTimeZone(),
		PreferredChannel: ChannelName(u.GetPreferredChannel()), Custom: u.GetTraits()}
	for _, c := range u.GetConsents() {
		if t.Consents == nil {
			t.Consents = map[string]bool{}
		}
		t.Consents[ChannelName(c.GetChannel())] = c.GetGranted()
	}
	return t
}

func surveyKind(k journeyv1.SurveyKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "SURVEY_KIND_"))
}

// settler settles a held delivery: a change dropped through no fault of its
// event is delivered again without counting against it.
func settler(d *journeystream.Delivery) func(error) {
	return func(err error) {
		if errors.Is(err, app.ErrHeldDropped) {
			err = fmt.Errorf("%w: %v", journeystream.ErrRequeue, err)
		}
		d.Settle(err)
	}
}
