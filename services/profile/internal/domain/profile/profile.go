package profile

import (
	"slices"
	"sort"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey/activity"
)

// Event is what the fold needs of one journey event, already decoded. The
// typed parts are set for the event types that carry them.
type Event struct {
	ID         string
	Type       string
	Source     string // who published it: a shop's "api", or a Bazgasht service
	Seq        uint64 // position in the JOURNEY stream, for the timeline
	OccurredAt time.Time
	Identities []Identity
	Touchpoint string

	Order   *OrderEvent
	Product *Product
	Traits  *TraitsEvent
	Ticket  *TicketEvent
	Survey  *SurveyEvent
	Segment string
}

// TimelineOnly reports whether folding e changes nothing but the timeline
// and the idempotency record: it is not the customer's own activity (a
// message sent, a rule fired, an invitation) and carries nothing else the
// profile keeps.
func (e Event) TimelineOnly() bool {
	return !activity.Is(e.Type, e.Source) && e.Order == nil && e.Product == nil && e.Traits == nil && e.Ticket == nil && e.Survey == nil
}

// Money is an exact amount in one currency.
type Money struct {
	Currency string `json:"c"`
	Amount   string `json:"a"`
}

// Product is a catalog item as an event described it.
type Product struct {
	ID       string `json:"id"`
	Name     string `json:"n,omitempty"`
	Category string `json:"cat,omitempty"`
	Price    *Money `json:"p,omitempty"`
	URL      string `json:"u,omitempty"`
	ImageURL string `json:"img,omitempty"`
}

// Item is one line of an order.
type Item struct {
	Product  Product `json:"p"`
	Quantity int64   `json:"q"`
}

// OrderEvent is the body of an order.* event.
type OrderEvent struct {
	OrderID string
	Total   *Money // order.placed
	Amount  *Money // order.paid, order.refunded
	Items   []Item
}

// TraitsEvent is the body of customer.updated: only set fields change.
type TraitsEvent struct {
	FirstName, LastName, Locale, TimeZone string
	PreferredChannel                      string
	Consents                              map[string]bool
	Custom                                map[string]string
}

// TicketEvent is the body of a ticket.* event.
type TicketEvent struct {
	TicketID     string
	Topic        string
	FirstContact bool
}

// SurveyEvent is the body of survey.responded.
type SurveyEvent struct {
	SurveyID string
	Kind     string // "nps", "csat", "ces"
	Score    int32
}

// Profile is everything Bazgasht knows about one customer.
type Profile struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	Identities []Identity `json:"ids"`
	FirstSeen  time.Time  `json:"first_seen"`
	// LastActivity is the latest event time of something the customer did.
	LastActivity time.Time `json:"last_activity"`
	Revision     int64     `json:"rev"`

	Traits  Traits             `json:"traits"`
	Orders  map[string]*Order  `json:"orders,omitempty"`
	Viewed  map[string]*View   `json:"viewed,omitempty"`
	Tickets map[string]*Ticket `json:"tickets,omitempty"`
	Scores  map[string]*Score  `json:"scores,omitempty"`

	// Applied lists every event folded in: the timeline and the record that
	// makes a late duplicate a no-op.
	Applied []EventRef `json:"applied"`
	// Memberships holds the segments the customer was last evaluated into
	// and since when, so each transition is published once.
	Memberships map[string]time.Time `json:"segments,omitempty"`
	// Merges lists the profiles absorbed into this one.
	Merges []Merge `json:"merges,omitempty"`

	// applied indexes Applied by event id; built on first use.
	applied map[string]struct{}
	// commerce is Commerce as computed at revision commerceRev: a read
	// asks for it several times (the stage, the segments, the answer).
	commerce    *Commerce
	commerceRev int64
}

// EventRef points at an applied event.
type EventRef struct {
	ID   string    `json:"id"`
	Type string    `json:"t"`
	At   time.Time `json:"at"`
	Seq  uint64    `json:"seq"`
	// Passive marks an event that is not the customer's own activity (see
	// Activity).
	Passive bool `json:"passive,omitempty"`
}

// Activity says whether the event was something the customer did.
func (r EventRef) Activity() bool { return !r.Passive }

// Merge records a profile absorbed into this one.
type Merge struct {
	Merged   string    `json:"merged"`
	Shared   Identity  `json:"shared"`
	Reason   string    `json:"reason"` // "identified" or "shared_identity"
	CauseID  string    `json:"cause"`
	MergedAt time.Time `json:"at"`
}

// Stamped is a value with the event time and event id that set it: the
// latest event time wins, whatever order events arrive in; on a tie (shops
// stamp to the second) the larger event id wins, so the result is still the
// same in every order.
type Stamped[T any] struct {
	V  T         `json:"v"`
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

func (s *Stamped[T]) set(v T, at time.Time, by string) {
	if later(at, by, s.At, s.By) {
		s.V, s.At, s.By = v, at, by
	}
}

// later orders (time, event id) pairs; the zero time is before everything.
func later(at time.Time, by string, than time.Time, thanBy string) bool {
	if than.IsZero() {
		return true
	}
	return at.After(than) || (at.Equal(than) && by >= thanBy)
}

// Traits are what customer.updated said, field by field.
type Traits struct {
	FirstName        Stamped[string]            `json:"first_name"`
	LastName         Stamped[string]            `json:"last_name"`
	Locale           Stamped[string]            `json:"locale"`
	TimeZone         Stamped[string]            `json:"tz"`
	PreferredChannel Stamped[string]            `json:"channel"`
	Consents         map[string]Stamped[bool]   `json:"consents,omitempty"`
	Custom           map[string]Stamped[string] `json:"custom,omitempty"`
}

// Order is one order as its events told it.
type Order struct {
	ID          string    `json:"id"`
	PlacedAt    time.Time `json:"placed,omitzero"`
	Total       *Money    `json:"total,omitempty"`
	Items       []Item    `json:"items,omitempty"`
	PaidAt      time.Time `json:"paid,omitzero"`
	ShippedAt   time.Time `json:"shipped,omitzero"`
	DeliveredAt time.Time `json:"delivered,omitzero"`
	CancelledAt time.Time `json:"cancelled,omitzero"`
	// Refunds by refund event id, so two partial refunds both count.
	Refunds map[string]Money `json:"refunds,omitempty"`
	// Touchpoint is where the order was placed ("web", "app", "store",
	// ...): the touchpoint of its order.placed event; empty when unknown.
	Touchpoint string `json:"tp,omitempty"`
}

// View is a product the customer looked at.
type View struct {
	Product Product   `json:"p"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	Count   int64     `json:"n"`
}

// Ticket is one support ticket.
type Ticket struct {
	ID           string               `json:"id"`
	Topic        Stamped[string]      `json:"topic"`
	OpenedAt     time.Time            `json:"opened,omitzero"`
	State        Stamped[string]      `json:"state"` // "open", "resolved"
	ResolvedAt   time.Time            `json:"resolved,omitzero"`
	Reopens      map[string]time.Time `json:"reopens,omitempty"`
	FirstContact Stamped[bool]        `json:"fcr"`
	Messages     map[string]time.Time `json:"msgs,omitempty"`
	// Touchpoint is where the ticket was opened ("email", "chat", "phone",
	// ...): the touchpoint of its ticket.opened event; empty when unknown.
	Touchpoint string `json:"tp,omitempty"`
}

// Score is the latest answer to one kind of survey.
type Score struct {
	SurveyID   string    `json:"survey"`
	Score      int32     `json:"score"`
	Touchpoint string    `json:"tp,omitempty"`
	At         time.Time `json:"at"`
	EventID    string    `json:"event"`
}

// New returns an empty profile.
func New(tenant, id string) *Profile {
	return &Profile{ID: id, Tenant: tenant}
}

// Seal computes the parts a profile derives on first use (the index of
// applied events, the commerce summary), so that readers sharing a profile
// they do not change never write to it.
func (p *Profile) Seal() {
	p.HasApplied("")
	p.Commerce()
}

// HasApplied reports whether event id is already folded in.
func (p *Profile) HasApplied(id string) bool {
	if p.applied == nil {
		p.applied = make(map[string]struct{}, len(p.Applied))
		for _, r := range p.Applied {
			p.applied[r.ID] = struct{}{}
		}
	}
	_, ok := p.applied[id]
	return ok
}

// MaxApplied bounds the events a profile remembers (about 125 bytes
// each): a stored profile must stay well under JetStream's 1 MiB message
// limit. Past it the oldest, by event time, are dropped from the timeline
// and from the idempotency record; a duplicate of one of those would apply
// again.
const MaxApplied = 5000

// addApplied records an applied event. The record is kept in stream order
// (by Seq; events are folded nearly in that order, so the place is found
// from the end): an announcement the service publishes is recorded when it
// is stored, before its copy comes back through the stream, and in stream
// order the record is the same however the stream was cut into batches.
func (p *Profile) addApplied(r EventRef) {
	p.HasApplied(r.ID) // builds the index
	i := len(p.Applied)
	for i > 0 && p.Applied[i-1].Seq > r.Seq {
		i--
	}
	p.Applied = slices.Insert(p.Applied, i, r)
	p.applied[r.ID] = struct{}{}
	if len(p.Applied) > MaxApplied {
		// Forget the oldest by event time; the rest keep their order.
		byTime := slices.Clone(p.Applied)
		sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].At.Before(byTime[j].At) })
		drop := make(map[string]struct{}, len(byTime)-MaxApplied)
		for _, old := range byTime[:len(byTime)-MaxApplied] {
			drop[old.ID] = struct{}{}
			delete(p.applied, old.ID)
		}
		p.Applied = slices.DeleteFunc(p.Applied, func(r EventRef) bool { _, ok := drop[r.ID]; return ok })
	}
}

// FirstCopy points the record of an applied event at its earliest copy in
// the stream and reports whether it moved. An event stored twice (an
// announcement published again, on a replay, after the stream's duplicate
// window) is then recorded as it was the first time. The revision stays:
// it counts what the customer's events changed, and a replay must give the
// same; both copies are the same event, so a cache still holding the
// other position serves the same timeline.
func (p *Profile) FirstCopy(id string, seq uint64) bool {
	if seq == 0 || !p.HasApplied(id) {
		return false
	}
	i := slices.IndexFunc(p.Applied, func(r EventRef) bool { return r.ID == id })
	if i < 0 || p.Applied[i].Seq <= seq {
		return false
	}
	r := p.Applied[i]
	r.Seq = seq
	p.Applied = slices.Delete(p.Applied, i, i+1)
	delete(p.applied, id)
	p.addApplied(r)
	return true
}

// AddIdentity joins id to the profile; it reports whether it was new.
func (p *Profile) AddIdentity(id Identity) bool {
	n := id.Normalized()
	if n.Value == "" || slices.Contains(p.Identities, n) {
		return false
	}
	p.Identities = append(p.Identities, n)
	sortIdentities(p.Identities)
	return true
}

func sortIdentities(ids []Identity) {
	rank := map[Kind]int{CustomerID: 0, Email: 1, Phone: 2, AnonymousID: 3}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Kind != ids[j].Kind {
			return rank[ids[i].Kind] < rank[ids[j].Kind]
		}
		return ids[i].Value < ids[j].Value
	})
}

// Known reports whether any identity names a known customer.
func (p *Profile) Known() bool {
	return slices.ContainsFunc(p.Identities, Identity.Known)
}

// Apply folds e into the profile. It reports false, changing nothing, when
// e was applied before: however late a duplicate comes, it has no effect.
func (p *Profile) Apply(e Event) bool {
	if p.HasApplied(e.ID) {
		return false
	}
	for _, id := range e.Identities {
		p.AddIdentity(id)
	}
	at := e.OccurredAt
	active := activity.Is(e.Type, e.Source)
	p.addApplied(EventRef{ID: e.ID, Type: e.Type, At: at, Seq: e.Seq, Passive: !active})
	p.Revision++
	if p.FirstSeen.IsZero() || at.Before(p.FirstSeen) {
		p.FirstSeen = at
	}
	if active && at.After(p.LastActivity) {
		p.LastActivity = at
	}
	switch e.Type {
	case "order.placed", "order.paid", "order.shipped", "order.delivered", "order.cancelled", "order.refunded":
		p.applyOrder(e)
	case "product.viewed":
		if e.Product != nil {
			p.view(*e.Product, at)
		}
	case "customer.updated":
		if e.Traits != nil {
			p.applyTraits(*e.Traits, at, e.ID)
		}
	case "ticket.opened", "ticket.message", "ticket.resolved", "ticket.reopened":
		if e.Ticket != nil {
			p.applyTicket(e, at)
		}
	case "survey.responded":
		if e.Survey != nil {
			p.applySurvey(*e.Survey, e.Touchpoint, at, e.ID)
		}
	}
	return true
}

func (p *Profile) order(id string) *Order {
	if p.Orders == nil {
		p.Orders = map[string]*Order{}
	}
	o, ok := p.Orders[id]
	if !ok {
		o = &Order{ID: id}
		p.Orders[id] = o
	}
	return o
}

// earliest keeps the earlier of *cur and at; a zero at (not known) never
// replaces a known time.
func earliest(cur *time.Time, at time.Time) {
	if at.IsZero() {
		return
	}
	if cur.IsZero() || at.Before(*cur) {
		*cur = at
	}
}

func (p *Profile) applyOrder(e Event) {
	if e.Order == nil || e.Order.OrderID == "" {
		return
	}
	o := p.order(e.Order.OrderID)
	at := e.OccurredAt
	switch e.Type {
	case "order.placed":
		earliest(&o.PlacedAt, at)
		o.Total = e.Order.Total
		o.Items = e.Order.Items
		o.Touchpoint = e.Touchpoint
	case "order.paid":
		earliest(&o.PaidAt, at)
	case "order.shipped":
		earliest(&o.ShippedAt, at)
	case "order.delivered":
		earliest(&o.DeliveredAt, at)
	case "order.cancelled":
		earliest(&o.CancelledAt, at)
	case "order.refunded":
		if e.Order.Amount != nil {
			if o.Refunds == nil {
				o.Refunds = map[string]Money{}
			}
			o.Refunds[e.ID] = *e.Order.Amount
		}
	}
}

func (p *Profile) view(prod Product, at time.Time) {
	if prod.ID == "" {
		return
	}
	if p.Viewed == nil {
		p.Viewed = map[string]*View{}
	}
	v, ok := p.Viewed[prod.ID]
	if !ok {
		v = &View{Product: prod, First: at, Last: at}
		p.Viewed[prod.ID] = v
	}
	v.Count++
	if at.Before(v.First) {
		v.First = at
	}
	if !at.Before(v.Last) {
		v.Last, v.Product = at, prod
	}
}

func (p *Profile) applyTraits(t TraitsEvent, at time.Time, by string) {
	tr := &p.Traits
	for _, f := range []struct {
		v string
		s *Stamped[string]
	}{{t.FirstName, &tr.FirstName}, {t.LastName, &tr.LastName}, {t.Locale, &tr.Locale}, {t.TimeZone, &tr.TimeZone}, {t.PreferredChannel, &tr.PreferredChannel}} {
		if f.v != "" {
			f.s.set(f.v, at, by)
		}
	}
	for ch, granted := range t.Consents {
		if tr.Consents == nil {
			tr.Consents = map[string]Stamped[bool]{}
		}
		s := tr.Consents[ch]
		s.set(granted, at, by)
		tr.Consents[ch] = s
	}
	for k, v := range t.Custom {
		if tr.Custom == nil {
			tr.Custom = map[string]Stamped[string]{}
		}
		s := tr.Custom[k]
		s.set(v, at, by)
		tr.Custom[k] = s
	}
}

func (p *Profile) applyTicket(e Event, at time.Time) {
	if e.Ticket.TicketID == "" {
		return
	}
	if p.Tickets == nil {
		p.Tickets = map[string]*Ticket{}
	}
	t, ok := p.Tickets[e.Ticket.TicketID]
	if !ok {
		t = &Ticket{ID: e.Ticket.TicketID}
		p.Tickets[t.ID] = t
	}
	if e.Ticket.Topic != "" {
		t.Topic.set(e.Ticket.Topic, at, e.ID)
	}
	switch e.Type {
	case "ticket.opened":
		earliest(&t.OpenedAt, at)
		t.State.set("open", at, e.ID)
		t.Touchpoint = e.Touchpoint
	case "ticket.message":
		if t.Messages == nil {
			t.Messages = map[string]time.Time{}
		}
		t.Messages[e.ID] = at
	case "ticket.resolved":
		t.State.set("resolved", at, e.ID)
		if at.After(t.ResolvedAt) {
			t.ResolvedAt = at
		}
		t.FirstContact.set(e.Ticket.FirstContact, at, e.ID)
	case "ticket.reopened":
		t.State.set("open", at, e.ID)
		if t.Reopens == nil {
			t.Reopens = map[string]time.Time{}
		}
		t.Reopens[e.ID] = at
	}
}

func (p *Profile) applySurvey(s SurveyEvent, touchpoint string, at time.Time, by string) {
	if p.Scores == nil {
		p.Scores = map[string]*Score{}
	}
	if cur, ok := p.Scores[s.Kind]; ok && !later(at, by, cur.At, cur.EventID) {
		return
	}
	p.Scores[s.Kind] = &Score{SurveyID: s.SurveyID, Score: s.Score, Touchpoint: touchpoint, At: at, EventID: by}
}
