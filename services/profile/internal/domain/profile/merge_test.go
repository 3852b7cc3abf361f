package profile_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func TestSurvivor(t *testing.T) {
	t.Parallel()
	prof := func(id string, first time.Time, ids ...profile.Identity) *profile.Profile {
		p := profile.New("demo", id)
		p.FirstSeen = first
		for _, i := range ids {
			p.AddIdentity(i)
		}
		return p
	}
	tests := []struct {
		name       string
		a, b       *profile.Profile
		keep, gone string
	}{
		{
			name: "visitor seen first, then the identified customer: the known customer survives",
			a:    prof("p_visitor", day(0), visitor),
			b:    prof("p_known", day(3), aliEmail),
			keep: "p_known", gone: "p_visitor",
		},
		{
			name: "same, arguments swapped",
			a:    prof("p_known", day(3), aliEmail),
			b:    prof("p_visitor", day(0), visitor),
			keep: "p_known", gone: "p_visitor",
		},
		{
			name: "known by phone only still beats a visitor with a smaller id",
			a:    prof("p_a", day(0), visitor),
			b:    prof("p_z", day(9), aliPhone),
			keep: "p_z", gone: "p_a",
		},
		{
			name: "two known profiles: the one seen first survives",
			a:    prof("p_a", day(5), aliEmail),
			b:    prof("p_b", day(1), aliPhone),
			keep: "p_b", gone: "p_a",
		},
		{
			name: "two known profiles, arguments swapped",
			a:    prof("p_b", day(1), aliPhone),
			b:    prof("p_a", day(5), aliEmail),
			keep: "p_b", gone: "p_a",
		},
		{
			name: "two known profiles seen at the same instant: the smaller id survives",
			a:    prof("p_b", day(1), aliPhone),
			b:    prof("p_a", day(1), aliEmail),
			keep: "p_a", gone: "p_b",
		},
		{
			name: "same instant, arguments swapped",
			a:    prof("p_a", day(1), aliEmail),
			b:    prof("p_b", day(1), aliPhone),
			keep: "p_a", gone: "p_b",
		},
		{
			name: "two visitors: the one seen first survives",
			a:    prof("p_a", day(2), visitor),
			b:    prof("p_b", day(1), profile.Identity{Kind: profile.AnonymousID, Value: "anon-other"}),
			keep: "p_b", gone: "p_a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keep, gone := profile.Survivor(tt.a, tt.b)
			check(t, "survivor", keep.ID, tt.keep)
			check(t, "absorbed", gone.ID, tt.gone)
		})
	}
}

// visitorAndCustomer is a visitor who browsed and chose a language before
// logging in, and the customer they turn out to be.
func visitorAndCustomer() (visitorEvents, customerEvents []profile.Event) {
	visitorEvents = []profile.Event{
		as(viewed("v1", day(0), saffron), visitor),
		as(viewed("v2", day(1), saffron), visitor),
		as(viewed("v3", day(1).Add(time.Hour), rug), visitor),
		as(updated("v4", day(1), profile.TraitsEvent{Locale: "fa", Consents: map[string]bool{"push": true}}), visitor),
		as(responded("v5", "csat", 4, day(2)), visitor),
	}
	customerEvents = []profile.Event{
		updated("k1", day(-10), profile.TraitsEvent{FirstName: "Ali", Locale: "en", Consents: map[string]bool{"email": true}}),
		placed("k2", "o1", day(3), "IRT", "960000", item(saffron, 1)),
		viewed("k3", day(4), saffron),
		ticketEv("k4", "ticket.opened", "T-1", "late delivery", day(5)),
		responded("k5", "nps", 9, day(6)),
	}
	return visitorEvents, customerEvents
}

func TestAbsorbVisitorIntoIdentifiedCustomer(t *testing.T) {
	t.Parallel()
	vEvents, kEvents := visitorAndCustomer()
	v := foldAs(t, profile.ProfileIDFor("demo", visitor), vEvents...)
	k := foldAs(t, profile.ProfileIDFor("demo", aliEmail), kEvents...)

	keep, gone := profile.Survivor(v, k)
	if keep != k || gone != v {
		t.Fatalf("Survivor kept %s, want the known customer %s", keep.ID, k.ID)
	}
	keep.Absorb(gone, visitor, "login-1", day(7))

	check(t, "identities", k.Identities, []profile.Identity{aliEmail.Normalized(), visitor.Normalized()})
	check(t, "merge record", k.Merges, []profile.Merge{{
		Merged: v.ID, Shared: visitor.Normalized(), Reason: profile.ReasonIdentified, CauseID: "login-1", MergedAt: day(7),
	}})
	check(t, "saffron views summed", *k.Viewed[saffron.ID], profile.View{Product: saffron, First: day(0), Last: day(4), Count: 3})
	check(t, "viewed and not bought", k.Commerce().ViewedNotBought, []profile.View{{Product: rug, First: day(1).Add(time.Hour), Last: day(1).Add(time.Hour), Count: 1}})
	check(t, "traits by event time", plain(k.Traits), plainTraits{
		FirstName: "Ali", Locale: "fa", Consents: map[string]bool{"email": true, "push": true},
	})
	check(t, "scores of both", len(k.Scores), 2)
	check(t, "first seen", k.FirstSeen, day(-10))
	check(t, "last activity", k.LastActivity, day(6))
	for _, e := range vEvents {
		if !k.HasApplied(e.ID) {
			t.Errorf("visitor event %s not on the survivor", e.ID)
		}
	}
	check(t, "the merged profile reads as the union of the events",
		readViews(k), readViews(fold(t, append(vEvents, kEvents...)...)))

	// A late duplicate of an event the visitor profile had seen, now
	// resolved to the survivor, has no effect.
	before := snapshot(t, k)
	if k.Apply(vEvents[0]) {
		t.Errorf("Apply(%s) = true on the survivor after the merge", vEvents[0].ID)
	}
	if after := snapshot(t, k); after != before {
		t.Errorf("a duplicate of an absorbed event changed the survivor:\nbefore %s\nafter  %s", before, after)
	}
}

func TestAbsorbTwoKnownProfiles(t *testing.T) {
	t.Parallel()
	byEmail := []profile.Event{
		placed("a1", "o1", day(0), "IRT", "960000", item(saffron, 2)),
		ticketEv("a2", "ticket.opened", "T-1", "late delivery", day(1)),
		responded("a3", "nps", 4, day(2)),
		updated("a4", day(3), profile.TraitsEvent{Locale: "fa", Custom: map[string]string{"tier": "gold"}}),
		viewed("a5", day(3), rug),
	}
	byPhone := []profile.Event{
		as(placed("b1", "o2", day(5), "IRT", "1250000", item(tea, 1)), aliPhone),
		as(updated("b2", day(4), profile.TraitsEvent{Locale: "en", Custom: map[string]string{"tier": "silver", "city": "Shiraz"}}), aliPhone),
		as(ticketEv("b3", "ticket.resolved", "T-1", "", day(6)), aliPhone),
		as(responded("b4", "nps", 10, day(8)), aliPhone),
		as(refunded("b5", "o2", day(9), "IRT", "250000"), aliPhone),
		as(viewed("b6", day(7), rug), aliPhone),
	}
	a := foldAs(t, profile.ProfileIDFor("demo", aliEmail), byEmail...)
	b := foldAs(t, profile.ProfileIDFor("demo", aliPhone), byPhone...)

	keep, gone := profile.Survivor(b, a)
	if keep != a {
		t.Fatalf("Survivor kept %s, want %s, seen first", keep.ID, a.ID)
	}
	keep.Absorb(gone, aliPhone, "link-1", day(10))

	check(t, "merge record", a.Merges, []profile.Merge{{
		Merged: b.ID, Shared: aliPhone.Normalized(), Reason: profile.ReasonSharedIdentity, CauseID: "link-1", MergedAt: day(10),
	}})
	c := a.Commerce()
	check(t, "orders of both", c.OrderCount, int64(2))
	check(t, "revenue of both less the refund", c.ByCurrency, []profile.CurrencyTotals{
		{Currency: "IRT", Orders: 2, Revenue: "1960000", AOV: "980000", Largest: "1250000", Refunded: "250000", PreviousAOV: "960000"},
	})
	check(t, "the ticket opened by email and resolved by phone is one resolved ticket",
		a.Support(), profile.Support{Total: 1, LastTopic: "late delivery", LastTicketAt: day(1)})
	check(t, "latest NPS by event time", a.NPSCategory(), "promoter")
	check(t, "traits by event time", plain(a.Traits), plainTraits{Locale: "en", Custom: map[string]string{"tier": "silver", "city": "Shiraz"}})
	check(t, "rug views summed", *a.Viewed[rug.ID], profile.View{Product: rug, First: day(3), Last: day(7), Count: 2})
	check(t, "segments", a.Segments(day(11), testRules()), []string{"promoter", "repeat"})
	check(t, "the merged profile reads as the union of the events",
		readViews(a), readViews(fold(t, append(byEmail, byPhone...)...)))
}

// TestAbsorbOrderSplitAcrossProfiles: the events of one order can reach two
// profiles before they are known to be one customer (the shop places it with
// the email, the payment gateway reports it with the phone).
func TestAbsorbOrderSplitAcrossProfiles(t *testing.T) {
	t.Parallel()
	place := placed("e1", "o1", day(0), "IRT", "960000", item(saffron, 1))
	pay := orderStep("e2", "order.paid", "o1", day(0).Add(time.Hour))
	deliver := orderStep("e3", "order.delivered", "o1", day(3))
	tests := []struct {
		name           string
		survivor, gone []profile.Event
	}{
		{
			name:     "placed on the survivor, paid and delivered on the absorbed profile",
			survivor: []profile.Event{place},
			gone:     []profile.Event{as(pay, aliPhone), as(deliver, aliPhone)},
		},
		{
			name:     "paid on the survivor, placed and delivered on the absorbed profile",
			survivor: []profile.Event{pay},
			gone:     []profile.Event{as(place, aliPhone), as(deliver, aliPhone)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keep := foldAs(t, "p_keep", tt.survivor...)
			gone := foldAs(t, "p_gone", tt.gone...)
			keep.Absorb(gone, aliPhone, "link-1", day(4))

			o := keep.Orders["o1"]
			if o == nil {
				t.Fatal("order o1 missing after the merge")
			}
			check(t, "placed", o.PlacedAt, day(0))
			check(t, "paid", o.PaidAt, day(0).Add(time.Hour))
			check(t, "delivered", o.DeliveredAt, day(3))
			check(t, "orders", keep.Commerce().OrderCount, int64(1))
			check(t, "revenue", keep.Commerce().ByCurrency, []profile.CurrencyTotals{
				{Currency: "IRT", Orders: 1, Revenue: "960000", AOV: "960000", Largest: "960000", Refunded: "0"},
			})
		})
	}
}

// TestAbsorbTouchpoint: an order keeps the touchpoint it was placed
// through and a ticket the one it was opened through, whichever profile
// those events reached; the survivor's wins when both know one.
func TestAbsorbTouchpoint(t *testing.T) {
	t.Parallel()
	placeApp := via(placed("e1", "o1", day(0), "IRT", "960000"), "app")
	pay := via(orderStep("e2", "order.paid", "o1", day(0).Add(time.Hour)), "web")
	openChat := via(ticketEv("t1", "ticket.opened", "T-1", "late delivery", day(1)), "chat")
	resolve := via(ticketEv("t2", "ticket.resolved", "T-1", "", day(2)), "phone")
	// The shop sent the same order and ticket again, through other
	// touchpoints, under other event ids.
	placeWeb := via(placed("e1-again", "o1", day(0), "IRT", "960000"), "web")
	openEmail := via(ticketEv("t1-again", "ticket.opened", "T-1", "late delivery", day(1)), "email")
	tests := []struct {
		name           string
		survivor, gone []profile.Event
	}{
		{
			name:     "opened on the survivor, later steps on the absorbed profile",
			survivor: []profile.Event{placeApp, openChat},
			gone:     []profile.Event{pay, resolve},
		},
		{
			name:     "later steps on the survivor, opened on the absorbed profile",
			survivor: []profile.Event{pay, resolve},
			gone:     []profile.Event{placeApp, openChat},
		},
		{
			name: "only on the absorbed profile",
			gone: []profile.Event{placeApp, pay, openChat, resolve},
		},
		{
			name:     "opened on both through different touchpoints: the survivor's",
			survivor: []profile.Event{placeApp, openChat},
			gone:     []profile.Event{placeWeb, openEmail},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keep := foldAs(t, "p_keep", tt.survivor...)
			gone := foldAs(t, "p_gone", tt.gone...)
			keep.Absorb(gone, aliPhone, "link-1", day(4))
			if keep.Orders["o1"] == nil || keep.Tickets["T-1"] == nil {
				t.Fatal("order o1 or ticket T-1 missing after the merge")
			}
			check(t, "order touchpoint", keep.Orders["o1"].Touchpoint, "app")
			check(t, "ticket touchpoint", keep.Tickets["T-1"].Touchpoint, "chat")
		})
	}
}

func TestAbsorbIsIdempotent(t *testing.T) {
	t.Parallel()
	vEvents, kEvents := visitorAndCustomer()
	tests := []struct {
		name         string
		cause        string
		at           time.Time
		sharedSecond profile.Identity
	}{
		{"the same merge committed again", "login-1", day(7), visitor},
		{"the same profile absorbed again for another cause", "login-2", day(9), aliEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := foldAs(t, "p_visitor", vEvents...)
			k := foldAs(t, "p_known", kEvents...)
			k.Absorb(v, visitor, "login-1", day(7))
			before := snapshot(t, k)
			k.Absorb(v, tt.sharedSecond, tt.cause, tt.at)
			if after := snapshot(t, k); after != before {
				t.Errorf("absorbing %s twice changed the survivor:\nbefore %s\nafter  %s", v.ID, before, after)
			}
		})
	}
}

func TestAbsorbKeepsEarlierMerges(t *testing.T) {
	t.Parallel()
	vEvents, kEvents := visitorAndCustomer()
	v := foldAs(t, "p_visitor", vEvents...)
	byPhone := foldAs(t, "p_phone", as(placed("b1", "o2", day(8), "USD", "40"), aliPhone))
	byEmail := foldAs(t, "p_email", kEvents...)

	// The visitor logged in with the phone first; later the phone and the
	// email turned out to be one customer.
	byPhone.Absorb(v, visitor, "login-1", day(8))
	byEmail.Absorb(byPhone, aliPhone, "link-1", day(10))

	check(t, "merges, oldest first", byEmail.Merges, []profile.Merge{
		{Merged: "p_visitor", Shared: visitor.Normalized(), Reason: profile.ReasonIdentified, CauseID: "login-1", MergedAt: day(8)},
		{Merged: "p_phone", Shared: aliPhone.Normalized(), Reason: profile.ReasonSharedIdentity, CauseID: "link-1", MergedAt: day(10)},
	})
	check(t, "identities of all three", byEmail.Identities, []profile.Identity{aliEmail.Normalized(), aliPhone.Normalized(), visitor.Normalized()})
	check(t, "reads as the union of all events",
		readViews(byEmail), readViews(fold(t, append(append(vEvents, kEvents...), as(placed("b1", "o2", day(8), "USD", "40"), aliPhone))...)))

	// A stale copy of the visitor profile is already in, through the phone.
	before := snapshot(t, byEmail)
	byEmail.Absorb(v, visitor, "login-1", day(8))
	if after := snapshot(t, byEmail); after != before {
		t.Errorf("absorbing a profile already absorbed through another merge changed the survivor:\nbefore %s\nafter  %s", before, after)
	}
}

func TestIdentityNormalized(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   profile.Identity
		want string
	}{
		{"email is trimmed and lower-cased", profile.Identity{Kind: profile.Email, Value: "  Ali.Rezaei@Example.COM "}, "ali.rezaei@example.com"},
		{"phone keeps digits and a leading plus", profile.Identity{Kind: profile.Phone, Value: "+98 (912) 345-6789"}, "+989123456789"},
		{"phone without country code keeps its digits", profile.Identity{Kind: profile.Phone, Value: "0912 345 6789"}, "09123456789"},
		{"a plus inside a phone is dropped", profile.Identity{Kind: profile.Phone, Value: "98+912 345"}, "98912345"},
		{"phone with a leading space still keeps its plus", profile.Identity{Kind: profile.Phone, Value: " +98 912"}, "+98912"},
		{"customer id is trimmed, case kept", profile.Identity{Kind: profile.CustomerID, Value: " C-1001 "}, "C-1001"},
		{"anonymous id is trimmed, case kept", profile.Identity{Kind: profile.AnonymousID, Value: "Anon-7F3a\t"}, "Anon-7F3a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in.Normalized()
			check(t, "normalized", got, profile.Identity{Kind: tt.in.Kind, Value: tt.want})
			check(t, "normalizing twice", got.Normalized(), got)
		})
	}
}

func TestIdentityKey(t *testing.T) {
	t.Parallel()
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		a, b     profile.Identity
		sameKey  bool
		rawParts []string // what must not appear in the key
	}{
		{
			name:     "one email written two ways has one key",
			a:        profile.Identity{Kind: profile.Email, Value: "Ali.Rezaei@Example.com"},
			b:        profile.Identity{Kind: profile.Email, Value: " ali.rezaei@example.com"},
			sameKey:  true,
			rawParts: []string{"ali", "rezaei", "example"},
		},
		{
			name:     "one phone written two ways has one key",
			a:        profile.Identity{Kind: profile.Phone, Value: "+98 912 345 6789"},
			b:        profile.Identity{Kind: profile.Phone, Value: "+98-912-345-6789"},
			sameKey:  true,
			rawParts: []string{"9123456789", "989123456789"},
		},
		{
			name: "the same value as different kinds has different keys",
			a:    profile.Identity{Kind: profile.CustomerID, Value: "ali@example.com"},
			b:    profile.Identity{Kind: profile.Email, Value: "ali@example.com"},
		},
		{
			name: "different emails have different keys",
			a:    profile.Identity{Kind: profile.Email, Value: "ali@example.com"},
			b:    profile.Identity{Kind: profile.Email, Value: "sara@example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ka, kb := tt.a.Key(), tt.b.Key()
			for _, k := range []string{ka, kb} {
				if !hex32.MatchString(k) {
					t.Errorf("key %q is not 32 hex digits", k)
				}
				for _, raw := range tt.rawParts {
					if strings.Contains(k, raw) {
						t.Errorf("key %q contains %q", k, raw)
					}
				}
			}
			if (ka == kb) != tt.sameKey {
				t.Errorf("Key(%v) = %s, Key(%v) = %s; same = %v, want %v", tt.a, ka, tt.b, kb, ka == kb, tt.sameKey)
			}
			check(t, "key on a second call", tt.a.Key(), ka)
		})
	}
	// Keys are stored: a change in how they are derived would orphan every
	// stored identity, so the derivation is pinned.
	check(t, "pinned key of ali@example.com", profile.Identity{Kind: profile.Email, Value: "Ali@Example.com"}.Key(), "c8db36c04d8e6b3516fd688f189702e8")
}

func TestProfileIDFor(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^p_[0-9a-f]{20}$`)
	email := profile.Identity{Kind: profile.Email, Value: "ali@example.com"}
	tests := []struct {
		name    string
		tenantA string
		a       profile.Identity
		tenantB string
		b       profile.Identity
		sameID  bool
		pinnedA string
	}{
		{"same tenant and identity on replay: same id", "demo", email, "demo", email, true, "p_9c0c05275d9dda78e510"},
		{"same identity written differently: same id", "demo", email, "demo", profile.Identity{Kind: profile.Email, Value: " ALI@example.com"}, true, ""},
		{"same identity in another tenant: another id", "demo", email, "other-shop", email, false, ""},
		{"another identity in the same tenant: another id", "demo", email, "demo", aliPhone, false, ""},
		{"same value as another kind: another id", "demo", profile.Identity{Kind: profile.CustomerID, Value: "ali@example.com"}, "demo", email, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ia, ib := profile.ProfileIDFor(tt.tenantA, tt.a), profile.ProfileIDFor(tt.tenantB, tt.b)
			if (ia == ib) != tt.sameID {
				t.Errorf("ProfileIDFor(%q, %v) = %s, ProfileIDFor(%q, %v) = %s; same = %v, want %v", tt.tenantA, tt.a, ia, tt.tenantB, tt.b, ib, ia == ib, tt.sameID)
			}
			if !format.MatchString(ia) {
				t.Errorf("id %q is not p_ and 20 hex digits", ia)
			}
			if tt.pinnedA != "" {
				check(t, "pinned id", ia, tt.pinnedA)
			}
			if strings.Contains(ia, "ali") || strings.Contains(ia, "example") {
				t.Errorf("id %q contains the email", ia)
			}
		})
	}
}

// foldAs folds events into a new profile with the given id.
func foldAs(t *testing.T, id string, events ...profile.Event) *profile.Profile {
	t.Helper()
	p := profile.New("demo", id)
	for _, e := range events {
		if !p.Apply(e) {
			t.Fatalf("Apply(%s) = false for a new event", e.ID)
		}
	}
	return p
}

// TestReabsorbReturnsOnlyWhatTheSurvivorLacks: a profile absorbed before
// and then left behind took more events; joining it again must give back
// exactly those, so folding them counts nothing twice.
func TestReabsorbReturnsOnlyWhatTheSurvivorLacks(t *testing.T) {
	t.Parallel()
	seq := uint64(0)
	next := func(e profile.Event) profile.Event { seq++; e.Seq = seq; return e }
	known := profile.New("demo", "p_known")
	known.Apply(next(as(placed("e1", "o-1", day(1), "IRT", "1000"), aliID)))
	anon := profile.New("demo", "p_visitor")
	anon.Apply(next(as(viewed("e2", day(0), rug), visitor)))
	anon.Apply(next(as(viewed("e3", day(0).Add(time.Hour), rug), visitor)))
	known.Absorb(anon, visitor, "e4", day(2))

	// Left behind, the visitor's profile takes one more view and absorbs a
	// third profile.
	late := next(as(viewed("e5", day(3), rug), visitor))
	anon.Apply(late)
	other := profile.New("demo", "p_other")
	other.Apply(next(as(viewed("e6", day(3), tea), profile.Identity{Kind: profile.AnonymousID, Value: "anon-2"})))
	anon.Absorb(other, visitor, "e6", day(3))

	if !known.Merged("p_visitor") || known.Merged("p_other") {
		t.Fatalf("Merged: visitor %v, other %v; want true, false", known.Merged("p_visitor"), known.Merged("p_other"))
	}
	rev := known.Revision
	lacks, joined := known.Reabsorb(anon)
	var ids []string
	for _, r := range lacks {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "e5,e6" {
		t.Fatalf("Reabsorb returned %v, want the events taken after the merge, in stream order: e5,e6", ids)
	}
	if !known.Merged("p_other") || !joined {
		t.Fatalf("the merge the visitor recorded since is not joined (joined %v)", joined)
	}
	if known.Revision != rev {
		t.Fatalf("Reabsorb moved the revision %d → %d: the folds of the lacked events move it, as on a replay", rev, known.Revision)
	}
	if !slices.Contains(known.Identities, profile.Identity{Kind: profile.AnonymousID, Value: "anon-2"}) {
		t.Fatalf("identities %v lack the one the visitor took since", known.Identities)
	}
	known.Apply(late)
	if n := known.Viewed[rug.ID].Count; n != 3 {
		t.Fatalf("rug views %d after folding the lacked event, want 3", n)
	}
	again, _ := known.Reabsorb(anon)
	if len(again) != 1 || again[0].ID != "e6" {
		t.Fatalf("a second Reabsorb returned %v, want only e6 (e5 is held now)", again)
	}
	if !known.Record(again[0]) || known.Record(again[0]) || !known.HasApplied("e6") {
		t.Fatal("Record must note an event once")
	}
}

// TestReabsorbSkipsWhatAFullRecordForgot: past MaxApplied a profile forgets
// its oldest events; those are not "lacked" when a left-behind profile
// still holds them.
func TestReabsorbSkipsWhatAFullRecordForgot(t *testing.T) {
	t.Parallel()
	known := profile.New("demo", "p_known")
	anon := profile.New("demo", "p_visitor")
	anon.Apply(as(viewed("old", day(0), rug), visitor))
	known.Absorb(anon, visitor, "m", day(1))
	for i := range profile.MaxApplied {
		known.Apply(as(viewed(fmt.Sprintf("k%d", i), day(2).Add(time.Duration(i)*time.Second), tea), aliID))
	}
	if known.HasApplied("old") {
		t.Fatal("the set-up failed: the full record still holds the oldest event")
	}
	anon.Apply(as(viewed("new", day(9), rug), visitor))
	lacks, _ := known.Reabsorb(anon)
	if len(lacks) != 1 || lacks[0].ID != "new" {
		t.Fatalf("Reabsorb returned %v, want only the event newer than the full record's oldest", lacks)
	}
}
