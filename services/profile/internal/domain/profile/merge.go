package profile

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// Merge reasons.
const (
	// ReasonIdentified: an anonymous visitor identified as a known customer.
	ReasonIdentified = "identified"
	// ReasonSharedIdentity: two known profiles share an identity.
	ReasonSharedIdentity = "shared_identity"
)

// Survivor picks which of two profiles remains when they merge: a known
// customer over a visitor, then the one seen first, then the smaller id, so
// the choice is the same on every replay.
func Survivor(a, b *Profile) (keep, absorb *Profile) {
	switch {
	case a.Known() != b.Known():
		if a.Known() {
			return a, b
		}
		return b, a
	case !a.FirstSeen.Equal(b.FirstSeen):
		if a.FirstSeen.Before(b.FirstSeen) {
			return a, b
		}
		return b, a
	case a.ID < b.ID:
		return a, b
	}
	return b, a
}

// Merged reports whether the profile id was absorbed into p.
func (p *Profile) Merged(id string) bool {
	return slices.ContainsFunc(p.Merges, func(m Merge) bool { return m.Merged == id })
}

// Absorb joins q into p: identities, events, orders, tickets, views and
// traits, each by the same event-time rules as the fold, so the result is
// the profile the union of their events would have built. It records the
// merge. A profile absorbed before is left to Reabsorb: counts cannot be
// joined twice.
func (p *Profile) Absorb(q *Profile, shared Identity, causeID string, at time.Time) {
	if p.Merged(q.ID) {
		return // absorbed already: a retried commit must not count twice
	}
	reason := ReasonSharedIdentity
	if !p.Known() || !q.Known() {
		reason = ReasonIdentified
	}
	for _, id := range q.Identities {
		p.AddIdentity(id)
	}
	for _, r := range q.Applied {
		if !p.HasApplied(r.ID) {
			p.addApplied(r)
		}
	}
	p.Revision += q.Revision
	if !q.FirstSeen.IsZero() && (p.FirstSeen.IsZero() || q.FirstSeen.Before(p.FirstSeen)) {
		p.FirstSeen = q.FirstSeen
	}
	if q.LastActivity.After(p.LastActivity) {
		p.LastActivity = q.LastActivity
	}
	p.Traits.absorb(q.Traits)
	for id, qo := range q.Orders {
		po := p.order(id)
		earliest(&po.PlacedAt, qo.PlacedAt)
		if po.Total == nil {
			po.Total, po.Items = qo.Total, qo.Items
		}
		if po.Touchpoint == "" {
			po.Touchpoint = qo.Touchpoint
		}
		for _, pair := range []struct{ dst, src *time.Time }{{&po.PaidAt, &qo.PaidAt}, {&po.ShippedAt, &qo.ShippedAt}, {&po.DeliveredAt, &qo.DeliveredAt}, {&po.CancelledAt, &qo.CancelledAt}} {
			if !pair.src.IsZero() {
				earliest(pair.dst, *pair.src)
			}
		}
		if len(qo.Refunds) > 0 {
			if po.Refunds == nil {
				po.Refunds = map[string]Money{}
			}
			maps.Copy(po.Refunds, qo.Refunds)
		}
	}
	for id, qv := range q.Viewed {
		if p.Viewed == nil {
			p.Viewed = map[string]*View{}
		}
		pv, ok := p.Viewed[id]
		if !ok {
			cp := *qv
			p.Viewed[id] = &cp
			continue
		}
		pv.Count += qv.Count
		if qv.First.Before(pv.First) {
			pv.First = qv.First
		}
		if qv.Last.After(pv.Last) {
			pv.Last, pv.Product = qv.Last, qv.Product
		}
	}
	for id, qt := range q.Tickets {
		if p.Tickets == nil {
			p.Tickets = map[string]*Ticket{}
		}
		pt, ok := p.Tickets[id]
		if !ok {
			cp := *qt
			p.Tickets[id] = &cp
			continue
		}
		mergeStamped(&pt.Topic, qt.Topic)
		mergeStamped(&pt.State, qt.State)
		mergeStamped(&pt.FirstContact, qt.FirstContact)
		if pt.Touchpoint == "" {
			pt.Touchpoint = qt.Touchpoint
		}
		if !qt.OpenedAt.IsZero() {
			earliest(&pt.OpenedAt, qt.OpenedAt)
		}
		if qt.ResolvedAt.After(pt.ResolvedAt) {
			pt.ResolvedAt = qt.ResolvedAt
		}
		pt.Reopens = union(pt.Reopens, qt.Reopens)
		pt.Messages = union(pt.Messages, qt.Messages)
	}
	for kind, qs := range q.Scores {
		if p.Scores == nil {
			p.Scores = map[string]*Score{}
		}
		if ps, ok := p.Scores[kind]; !ok || later(qs.At, qs.EventID, ps.At, ps.EventID) {
			cp := *qs
			p.Scores[kind] = &cp
		}
	}
	p.Merges = append(p.Merges, q.Merges...)
	p.Merges = append(p.Merges, Merge{Merged: q.ID, Shared: shared.Normalized(), Reason: reason, CauseID: causeID, MergedAt: at})
	sort.SliceStable(p.Merges, func(i, j int) bool { return p.Merges[i].MergedAt.Before(p.Merges[j].MergedAt) })
}

// Reabsorb takes into p what q gained after p absorbed it: a commit that
// merged q and stopped before deleting it can leave an identity leading to
// q, which then takes events p lacks. It joins q's identities and the
// merges q recorded since, reporting whether any was new, and returns the
// events p lacks, in stream order, for the caller to fold into p: their
// effects cannot be taken from q's totals without counting what p already
// holds twice. The revision is left to those folds, so a replay (which
// folds the same events once) gives the same. An event older than any p
// keeps, when p's record is full, was forgotten by p, not missed.
func (p *Profile) Reabsorb(q *Profile) (lacks []EventRef, joined bool) {
	for _, id := range q.Identities {
		if p.AddIdentity(id) {
			joined = true
		}
	}
	for _, m := range q.Merges {
		if !p.Merged(m.Merged) {
			p.Merges = append(p.Merges, m)
			joined = true
		}
	}
	sort.SliceStable(p.Merges, func(i, j int) bool { return p.Merges[i].MergedAt.Before(p.Merges[j].MergedAt) })
	var oldest time.Time
	if len(p.Applied) >= MaxApplied {
		for i, r := range p.Applied {
			if i == 0 || r.At.Before(oldest) {
				oldest = r.At
			}
		}
	}
	for _, r := range q.Applied {
		if !p.HasApplied(r.ID) && !r.At.Before(oldest) {
			lacks = append(lacks, r)
		}
	}
	return lacks, joined
}

// Record notes an applied event whose content can no longer be read (the
// stream dropped it): its duplicate stays a no-op and the timeline keeps
// it, though its effects are not folded. It reports whether it was new.
func (p *Profile) Record(r EventRef) bool {
	if p.HasApplied(r.ID) {
		return false
	}
	p.addApplied(r)
	p.Revision++
	return true
}

func union(a, b map[string]time.Time) map[string]time.Time {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]time.Time{}
	}
	maps.Copy(a, b)
	return a
}

func (t *Traits) absorb(q Traits) {
	for _, f := range []struct{ dst, src *Stamped[string] }{{&t.FirstName, &q.FirstName}, {&t.LastName, &q.LastName}, {&t.Locale, &q.Locale}, {&t.TimeZone, &q.TimeZone}, {&t.PreferredChannel, &q.PreferredChannel}} {
		mergeStamped(f.dst, *f.src)
	}
	for _, ch := range slices.Sorted(maps.Keys(q.Consents)) {
		if t.Consents == nil {
			t.Consents = map[string]Stamped[bool]{}
		}
		s := t.Consents[ch]
		mergeStamped(&s, q.Consents[ch])
		t.Consents[ch] = s
	}
	for _, k := range slices.Sorted(maps.Keys(q.Custom)) {
		if t.Custom == nil {
			t.Custom = map[string]Stamped[string]{}
		}
		s := t.Custom[k]
		mergeStamped(&s, q.Custom[k])
		t.Custom[k] = s
	}
}

// mergeStamped keeps the later of two stamped values; an unset one (zero
// time) never wins.
func mergeStamped[T any](dst *Stamped[T], src Stamped[T]) {
	if !src.At.IsZero() {
		dst.set(src.V, src.At, src.By)
	}
}
