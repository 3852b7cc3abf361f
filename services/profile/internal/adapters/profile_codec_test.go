package adapters

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// A profile with every part set: orders (placed, paid, refunded twice,
// cancelled), views, traits with consents and custom traits, tickets with
// messages and reopens, scores, segments and a merge.
func codecProfile() *profile.Profile {
	t0 := time.Date(2026, 3, 20, 10, 30, 0, 123456789, time.UTC)
	id := profile.Identity{Kind: profile.CustomerID, Value: "c-1"}
	anon := profile.Identity{Kind: profile.AnonymousID, Value: "a-1"}
	book := profile.Product{ID: "sku-1", Name: "کتاب «بازگشت»", Category: "books", Price: &profile.Money{Currency: "IRT", Amount: "120000"}, URL: "https://shop.example/p/1?x=<y>&z"}
	toman := func(a string) *profile.Money { return &profile.Money{Currency: "IRT", Amount: a} }
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	evs := []profile.Event{
		{ID: "e1", Type: "product.viewed", OccurredAt: at(0), Seq: 1, Identities: []profile.Identity{anon}, Product: &book},
		{ID: "e2", Type: "customer.updated", OccurredAt: at(1), Seq: 2, Identities: []profile.Identity{id, anon}, Traits: &profile.TraitsEvent{
			FirstName: "علی", LastName: "R\"x", Locale: "fa", TimeZone: "Asia/Tehran", PreferredChannel: "sms",
			Consents: map[string]bool{"sms": true, "email": false, "webhook": true}, Custom: map[string]string{"tier": "gold", "city": "Tehran", "a\u2028b": "\x01"}}},
		{ID: "e3", Type: "order.placed", OccurredAt: at(2), Seq: 3, Identities: []profile.Identity{id}, Touchpoint: "app",
			Order: &profile.OrderEvent{OrderID: "o1", Total: toman("240000"), Items: []profile.Item{{Product: book, Quantity: 2}}}},
		{ID: "e4", Type: "order.paid", OccurredAt: at(3), Seq: 4, Identities: []profile.Identity{id}, Order: &profile.OrderEvent{OrderID: "o1", Amount: toman("240000")}},
		{ID: "e5", Type: "order.refunded", OccurredAt: at(4), Seq: 5, Identities: []profile.Identity{id}, Order: &profile.OrderEvent{OrderID: "o1", Amount: toman("1000")}},
		{ID: "e6", Type: "order.refunded", OccurredAt: at(5), Seq: 6, Identities: []profile.Identity{id}, Order: &profile.OrderEvent{OrderID: "o1", Amount: toman("2000")}},
		{ID: "e7", Type: "order.placed", OccurredAt: at(6), Seq: 7, Identities: []profile.Identity{id}, Order: &profile.OrderEvent{OrderID: "o2", Total: toman("5")}},
		{ID: "e8", Type: "order.cancelled", OccurredAt: at(7), Seq: 8, Identities: []profile.Identity{id}, Order: &profile.OrderEvent{OrderID: "o2"}},
		{ID: "e9", Type: "ticket.opened", OccurredAt: at(8), Seq: 9, Identities: []profile.Identity{id}, Touchpoint: "chat", Ticket: &profile.TicketEvent{TicketID: "t1", Topic: "delivery"}},
		{ID: "e10", Type: "ticket.message", OccurredAt: at(9), Seq: 10, Identities: []profile.Identity{id}, Ticket: &profile.TicketEvent{TicketID: "t1"}},
		{ID: "e11", Type: "ticket.resolved", OccurredAt: at(10), Seq: 11, Identities: []profile.Identity{id}, Ticket: &profile.TicketEvent{TicketID: "t1", FirstContact: true}},
		{ID: "e12", Type: "ticket.reopened", OccurredAt: at(11), Seq: 12, Identities: []profile.Identity{id}, Ticket: &profile.TicketEvent{TicketID: "t1"}},
		{ID: "e13", Type: "survey.responded", OccurredAt: at(12), Seq: 13, Identities: []profile.Identity{id}, Touchpoint: "sms", Survey: &profile.SurveyEvent{SurveyID: "nps", Kind: "nps", Score: 3}},
		{ID: "e14", Type: "segment.entered", Source: "profile", OccurredAt: at(13), Seq: 14, Identities: []profile.Identity{id}, Segment: "detractor"},
	}
	p := profile.New("shop", "p_1")
	for _, e := range evs {
		p.Apply(e)
	}
	p.UpdateSegments(at(14), profile.Rules{})
	other := profile.New("shop", "p_2")
	other.Apply(profile.Event{ID: "e15", Type: "product.viewed", OccurredAt: at(15), Seq: 15, Identities: []profile.Identity{{Kind: profile.Email, Value: "a@example.com"}}, Product: &book})
	p.Absorb(other, id, "e16", at(16))
	return p
}

// The stored form is what encoding/json writes: profiles written before the
// codec changed are read the same, and either library reads what the other
// wrote.
func TestProfileCodecMatchesEncodingJSON(t *testing.T) {
	p := codecProfile()
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("stored form differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	back, err := decodeProfile(want)
	if err != nil {
		t.Fatal(err)
	}
	var std profile.Profile
	if err := json.Unmarshal(want, &std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, &std) {
		t.Fatalf("decoded differently from encoding/json:\n got %+v\nwant %+v", back, &std)
	}
	if again, _ := encodeProfile(back); string(again) != string(want) {
		t.Fatalf("a decoded profile does not encode to what it was read from:\n got %s\nwant %s", again, want)
	}
	if _, err := decodeProfile([]byte(`{"id":"p_1","orders":[1]}`)); err == nil {
		t.Fatal("a malformed profile was read without an error")
	}
}
