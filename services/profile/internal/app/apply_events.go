// Package app holds the profile service's use cases: folding journey
// events into profiles, noticing segment changes as time passes, and the
// queries behind the API.
package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// SegmentEvent is a segment transition to announce as a journey event.
type SegmentEvent struct {
	Tenant    string
	ProfileID string
	// Customer holds the profile's identities, so rules can address it.
	Customer []profile.Identity
	Change   profile.SegmentChange
}

// SegmentPublisher announces segment transitions (segment.entered and
// segment.exited journey events) and returns once they are stored, with
// each announcement as the fold will see it come back (its stream sequence
// set). Its event ids are derived from the transition, so announcing one
// twice is one event.
type SegmentPublisher interface {
	PublishSegments(ctx context.Context, events []SegmentEvent) ([]profile.Event, error)
}

// CacheWriter is told of every committed profile, removed profile and
// changed identity mapping, so that no reader sees a profile older than the
// last commit. It never fails: a cache it cannot reach is bypassed.
type CacheWriter interface {
	Store(ctx context.Context, ps ...profile.Stored)
	Remove(ctx context.Context, tenant, id string)
	StoreIdentities(ctx context.Context, tenant string, index map[string]string)
}

// EventSource reads applied events back from the stream by position: a
// merge finished late folds the events its survivor lacks from them.
type EventSource interface {
	// EventsAt returns tenant's events at seqs that the stream still holds.
	EventsAt(ctx context.Context, tenant string, seqs []uint64) (map[uint64]profile.Event, error)
}

// ApplyEvent is one event of one tenant to fold.
type ApplyEvent struct {
	Tenant string
	Event  profile.Event
	// Settle, when set, lets the fold hold the event: Handle returns
	// ErrHeld for it and calls Settle later, nil once its change is
	// written, an error when the change was dropped and must be folded
	// again.
	Settle func(error)
}

// ErrHeld is Handle's answer for an event whose change is held, to be
// written with later ones (see WithTimelineHold).
var ErrHeld = errors.New("change held, written later")

// ErrHeldDropped settles held events whose change was not written, through
// no fault of theirs (another event's failure, a restart): they must be
// folded again.
var ErrHeldDropped = errors.New("held change dropped before it was written; folding again")

// ApplyEventsHandler folds batches of events into profiles.
type ApplyEventsHandler struct {
	repo     profile.Repository
	segments SegmentPublisher
	events   EventSource
	cache    CacheWriter
	rules    profile.Rules

	// mu serialises folds and segment sweeps: both read, change and write
	// profiles.
	mu sync.Mutex
	// cutoffs are the tenants' top-spender cut-offs, loaded on first use and
	// replaced by each sweep.
	cutoffs map[string]profile.Amounts

	// hold is how long a change to a profile's timeline alone may wait to
	// be written with the next change (0: written at once); held are those
	// waiting, by tenant and profile.
	hold time.Duration
	now  func() time.Time
	held map[heldKey]*heldProfile
	// heldN counts the events behind held changes, read without the lock.
	heldN atomic.Int64
}

type heldKey struct{ tenant, id string }

// heldProfile is a profile whose timeline changes wait to be written, and
// the events behind them, unacknowledged until they are.
type heldProfile struct {
	p       *profile.Profile
	since   time.Time
	events  map[string]bool
	settles []func(error)
}

// settleHeld settles the events behind a held change, once it is written
// (nil) or dropped.
func (h *ApplyEventsHandler) settleHeld(hp *heldProfile, err error) {
	for _, s := range hp.settles {
		s(err)
	}
	h.heldN.Add(-int64(len(hp.settles)))
	hp.settles = nil
}

// HandlerOption tunes an ApplyEventsHandler.
type HandlerOption func(*ApplyEventsHandler)

// WithTimelineHold lets events that change only a profile's timeline (a
// message sent, a rule fired, an invitation: Bazgasht's own events, three
// or four per customer journey) wait up to hold, unacknowledged, to be
// written together with the profile's next change instead of rewriting
// the whole profile each. RunHeldFlusher writes what waited longer.
func WithTimelineHold(hold time.Duration, now func() time.Time) HandlerOption {
	return func(h *ApplyEventsHandler) { h.hold, h.now = hold, now }
}

// rulesFor returns the rules of tenant, with its top-spender cut-offs.
// Callers hold h.mu.
func (h *ApplyEventsHandler) rulesFor(ctx context.Context, tenant string) (profile.Rules, error) {
	if h.rules.VIPTopPercent <= 0 {
		return h.rules, nil
	}
	c, ok := h.cutoffs[tenant]
	if !ok {
		var err error
		if c, err = h.repo.Cutoffs(ctx, tenant); err != nil {
			return h.rules, err
		}
		h.cutoffs[tenant] = c
	}
	return h.rules.WithCutoffs(c), nil
}

// NewApplyEventsHandler checks its dependencies.
func NewApplyEventsHandler(repo profile.Repository, segments SegmentPublisher, events EventSource, cache CacheWriter, rules profile.Rules, opts ...HandlerOption) (*ApplyEventsHandler, error) {
	if repo == nil || segments == nil || events == nil || cache == nil {
		return nil, errors.New("app: repository, segment publisher, event source and cache are required")
	}
	h := &ApplyEventsHandler{repo: repo, segments: segments, events: events, cache: cache, rules: rules, cutoffs: map[string]profile.Amounts{},
		now: time.Now, held: map[heldKey]*heldProfile{}}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// maxFailingInARow is how many events folded one by one after a failed
// batch may fail in a row before the rest are given back untried.
const maxFailingInARow = 3

// tenantBatch is the working set of one tenant within a batch.
type tenantBatch struct {
	tenant   string
	rules    profile.Rules
	changes  profile.Changes
	loaded   map[string]*profile.Profile // by id
	index    map[string]string           // identity key -> id
	asked    map[string]bool             // identity keys looked up in the store
	segEvent []SegmentEvent
	items    []int // positions in the batch

	// active are profiles written with this batch whatever else; passive
	// lists, by profile, the events that changed only its timeline (or
	// repeat an event whose change is held), which may be held.
	active   map[string]bool
	passive  map[string][]int
	passiveP map[string]*profile.Profile
	// held are the positions of events whose change this batch held.
	held []int
}

func newTenantBatch(tenant string) *tenantBatch {
	return &tenantBatch{tenant: tenant, loaded: map[string]*profile.Profile{}, index: map[string]string{}, asked: map[string]bool{},
		active: map[string]bool{}, passive: map[string][]int{}, passiveP: map[string]*profile.Profile{},
		changes: profile.Changes{Profiles: map[string]*profile.Profile{}, Identities: map[string]string{}, Absorbed: map[string]string{}}}
}

// Handle folds events in order and returns one error per event. Each
// tenant's changes are written together; segment transitions are announced
// before the profiles that record them are written, so a crash between the
// two repeats an announcement (deduplicated by its id) rather than losing it.
func (h *ApplyEventsHandler) Handle(ctx context.Context, batch []ApplyEvent) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	errs := make([]error, len(batch))
	byTenant := map[string]*tenantBatch{}
	var order []*tenantBatch
	for i, item := range batch {
		tb, ok := byTenant[item.Tenant]
		if !ok {
			tb = newTenantBatch(item.Tenant)
			byTenant[item.Tenant] = tb
			order = append(order, tb)
		}
		tb.items = append(tb.items, i)
	}
	for _, tb := range order {
		err := h.foldTenant(ctx, tb, batch)
		for _, i := range tb.held {
			errs[i] = ErrHeld
		}
		if err != nil {
			// The working copies hold changes that were not written.
			h.rollback()
			if len(tb.items) == 1 {
				errs[tb.items[0]] = err
				continue
			}
			// Fold the events one by one, so one that cannot be applied
			// (a profile grown too large, a conflict) fails alone and the
			// tenant's other events go on. Several failing in a row is the
			// store failing, not the events: the rest are given back at
			// once rather than each waiting out the store's timeout.
			failed := 0
			for n, i := range tb.items {
				if failed == maxFailingInARow {
					for _, j := range tb.items[n:] {
						errs[j] = fmt.Errorf("not tried after %d events in a row failed: %w", failed, err)
					}
					break
				}
				one := newTenantBatch(tb.tenant)
				one.items = []int{i}
				oneErr := h.foldTenant(ctx, one, batch)
				if len(one.held) > 0 {
					errs[i] = ErrHeld
				}
				if oneErr != nil {
					h.rollback()
					errs[i] = oneErr
					err = oneErr
					failed++
				} else {
					failed = 0
				}
			}
		}
	}
	return errs
}

func (h *ApplyEventsHandler) foldTenant(ctx context.Context, tb *tenantBatch, batch []ApplyEvent) error {
	var err error
	if tb.rules, err = h.rulesFor(ctx, tb.tenant); err != nil {
		return err
	}
	var keys []string
	for _, i := range tb.items {
		for _, id := range batch[i].Event.Identities {
			keys = append(keys, id.Key())
		}
	}
	resolved, err := h.repo.Resolve(ctx, tb.tenant, keys)
	if err != nil {
		return err
	}
	for k, id := range resolved {
		tb.index[k] = id
	}
	for _, k := range keys {
		tb.asked[k] = true
	}
	for _, i := range tb.items {
		if err := h.fold(ctx, tb, i, batch[i]); err != nil {
			return err
		}
	}
	hold := h.hold > 0 && ctx.Err() == nil
	toHold := map[string][]int{}
	for id, items := range tb.passive {
		_, absorbed := tb.changes.Absorbed[id]
		switch {
		case tb.active[id] || absorbed:
			// Written (or merged into a profile written) with this batch.
		case !hold:
			tb.changes.Profiles[id] = tb.passiveP[id]
		default:
			delete(tb.changes.Profiles, id)
			toHold[id] = items
		}
	}
	if len(tb.segEvent) > 0 {
		if err := h.announce(ctx, tb); err != nil {
			return err
		}
	}
	stored, err := h.repo.Commit(ctx, tb.tenant, tb.changes)
	if err != nil {
		return err
	}
	h.cache.Store(ctx, stored...)
	for id := range tb.changes.Absorbed {
		h.cache.Remove(ctx, tb.tenant, id)
	}
	h.cache.StoreIdentities(ctx, tb.tenant, tb.changes.Identities)
	h.written(tb.tenant, stored, tb.changes.Absorbed)
	for id, items := range toHold {
		k := heldKey{tb.tenant, id}
		hp := h.held[k]
		if hp != nil && hp.p != tb.passiveP[id] {
			h.settleHeld(hp, ErrHeldDropped) // not the copy the fold changes: cannot be written
			hp = nil
		}
		if hp == nil {
			hp = &heldProfile{p: tb.passiveP[id], since: h.now(), events: map[string]bool{}}
			h.held[k] = hp
		}
		for _, i := range items {
			hp.settles = append(hp.settles, batch[i].Settle)
			hp.events[batch[i].Event.ID] = true
		}
		h.heldN.Add(int64(len(items)))
		tb.held = append(tb.held, items...)
	}
	return nil
}

// written settles the held changes a commit wrote: those of the very
// profiles it wrote are acknowledged; those of profiles it merged away
// (or of another copy) are folded again, as duplicates where they landed.
func (h *ApplyEventsHandler) written(tenant string, stored []profile.Stored, absorbed map[string]string) {
	for _, s := range stored {
		k := heldKey{tenant, s.Profile.ID}
		if hp := h.held[k]; hp != nil {
			if hp.p == s.Profile {
				h.settleHeld(hp, nil)
			} else {
				h.settleHeld(hp, ErrHeldDropped)
			}
			delete(h.held, k)
		}
	}
	for id := range absorbed {
		k := heldKey{tenant, id}
		if hp := h.held[k]; hp != nil {
			h.settleHeld(hp, ErrHeldDropped)
			delete(h.held, k)
		}
	}
}

// rollback forgets every uncommitted change, the held ones with the rest:
// their events are folded again.
func (h *ApplyEventsHandler) rollback() {
	h.repo.Rollback()
	for k, hp := range h.held {
		h.settleHeld(hp, ErrHeldDropped)
		delete(h.held, k)
	}
}

// FlushHeld writes the held changes that waited the hold out (every one
// when all is set) and acknowledges their events.
func (h *ApplyEventsHandler) FlushHeld(ctx context.Context, all bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	due := map[string]map[string]*profile.Profile{}
	for k, hp := range h.held {
		if !all && now.Sub(hp.since) < h.hold {
			continue
		}
		p, err := h.repo.Get(ctx, k.tenant, k.id)
		if err != nil || p != hp.p {
			// The store no longer hands out the copy holding the
			// changes (forgotten for room, or merged away).
			h.settleHeld(hp, ErrHeldDropped)
			delete(h.held, k)
			continue
		}
		if due[k.tenant] == nil {
			due[k.tenant] = map[string]*profile.Profile{}
		}
		due[k.tenant][k.id] = p
	}
	for tenant, ps := range due {
		stored, err := h.repo.Commit(ctx, tenant, profile.Changes{Profiles: ps})
		if err != nil {
			h.rollback()
			return fmt.Errorf("write held timeline changes: %w", err)
		}
		h.cache.Store(ctx, stored...)
		h.written(tenant, stored, nil)
	}
	return nil
}

// Held counts the events whose change is held, for metrics and tests; it
// does not wait for the fold.
func (h *ApplyEventsHandler) Held() int { return int(h.heldN.Load()) }

// RunHeldFlusher writes held changes as they come due, until ctx ends.
func (h *ApplyEventsHandler) RunHeldFlusher(ctx context.Context) error {
	if h.hold <= 0 {
		return nil
	}
	t := time.NewTicker(max(h.hold/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if ctx.Err() != nil {
				return nil // stopping: the last flush is the consume loop's
			}
			_ = h.FlushHeld(ctx, false) // a failure folds the events again
		}
	}
}

// announce publishes the batch's segment transitions and folds each
// announcement into its profile at once, as the fold would when the
// announcement comes back through the stream: the copy that comes back is
// then a duplicate, and costs no second write of the profile.
func (h *ApplyEventsHandler) announce(ctx context.Context, tb *tenantBatch) error {
	stored, err := h.segments.PublishSegments(ctx, tb.segEvent)
	if err != nil {
		return fmt.Errorf("announce segment changes: %w", err)
	}
	for i, e := range stored {
		id := tb.segEvent[i].ProfileID
		if survivor, ok := tb.changes.Absorbed[id]; ok {
			id = survivor // merged later in the batch
		}
		if p := tb.changes.Profiles[id]; p != nil {
			p.Apply(e)
		}
	}
	return nil
}

func (h *ApplyEventsHandler) profile(ctx context.Context, tb *tenantBatch, id string) (*profile.Profile, error) {
	if p, ok := tb.loaded[id]; ok {
		return p, nil
	}
	p, err := h.repo.Get(ctx, tb.tenant, id)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	tb.loaded[id] = p
	return p, nil
}

// fold applies one event: finds the profiles its identities belong to,
// merges them when there are several, applies the event and records what
// changed.
func (h *ApplyEventsHandler) fold(ctx context.Context, tb *tenantBatch, i int, item ApplyEvent) error {
	e := item.Event
	if len(e.Identities) == 0 {
		return nil // a catalog event: no customer to fold into
	}
	var found []*profile.Profile
	via := map[string]profile.Identity{} // profile id -> the identity that found it
	for _, id := range e.Identities {
		pid, ok := tb.index[id.Key()]
		if !ok {
			continue
		}
		if _, seen := via[pid]; seen {
			continue
		}
		p, err := h.profile(ctx, tb, pid)
		if err != nil {
			return err
		}
		if _, seen := via[p.ID]; seen {
			continue // pid was merged into a profile already found
		}
		via[pid], via[p.ID] = id, id
		found = append(found, p)
	}
	var keep *profile.Profile
	changed := len(found) != 1 // a new profile, or a merge
	timelineOnly := !changed && e.TimelineOnly()
	switch {
	case len(found) == 0:
		keep = profile.New(tb.tenant, profile.ProfileIDFor(tb.tenant, primary(e.Identities)))
		tb.loaded[keep.ID] = keep
	default:
		keep = found[0]
		for _, other := range found[1:] {
			survivor, absorbed := profile.Survivor(keep, other)
			if absorbed.Merged(survivor.ID) && !survivor.Merged(absorbed.ID) {
				// The profile left behind changed since (an email, an
				// earlier event) and would now win: the merge on record
				// decides.
				survivor, absorbed = absorbed, survivor
			}
			if survivor.Merged(absorbed.ID) {
				// Absorbed before by a commit that stopped short: it took
				// events since.
				if err := h.carryOver(ctx, survivor, absorbed); err != nil {
					return err
				}
			} else {
				survivor.Absorb(absorbed, via[absorbed.ID], e.ID, e.OccurredAt)
			}
			h.retire(tb, survivor, absorbed)
			keep = survivor
		}
	}
	applied := keep.Apply(e)
	if applied || len(found) > 1 {
		// An event, or a merge (whose event may be a redelivery), moves
		// segments.
		changed = true
		for _, c := range keep.UpdateSegments(e.OccurredAt, tb.rules) {
			h.recordSegment(tb, keep, c)
			timelineOnly = false
		}
	}
	if !applied && keep.FirstCopy(e.ID, e.Seq) {
		changed = true
		timelineOnly = false
	}
	// Every identity of the profile must lead to it. Identities this batch
	// did not resolve are looked up (the repository remembers most), so a
	// duplicate naming only some of them writes nothing; an entry that is
	// wrong (a merge, or a commit that failed before its index entries) is
	// written, without the profile when only the index was behind.
	var unresolved []string
	for _, id := range keep.Identities {
		if _, ok := tb.index[id.Key()]; !ok && !tb.asked[id.Key()] {
			unresolved = append(unresolved, id.Key())
		}
	}
	if len(unresolved) > 0 {
		found, err := h.repo.Resolve(ctx, tb.tenant, unresolved)
		if err != nil {
			return err
		}
		for k, id := range found {
			tb.index[k] = id
		}
		for _, k := range unresolved {
			tb.asked[k] = true
		}
	}
	for _, id := range keep.Identities {
		if tb.index[id.Key()] != keep.ID {
			tb.index[id.Key()] = keep.ID
			tb.changes.Identities[id.Key()] = keep.ID
			timelineOnly = false
		}
	}
	// A duplicate (an announcement coming back, a redelivery) changes
	// nothing and is not written again — unless it repeats an event whose
	// change is held: it is acknowledged with that change, never before.
	repeatsHeld := !changed && h.held[heldKey{tb.tenant, keep.ID}] != nil && h.held[heldKey{tb.tenant, keep.ID}].events[e.ID]
	switch {
	case (changed && applied && timelineOnly || repeatsHeld) && item.Settle != nil:
		tb.changes.Profiles[keep.ID] = keep
		tb.passive[keep.ID] = append(tb.passive[keep.ID], i)
		tb.passiveP[keep.ID] = keep
	case changed || repeatsHeld:
		tb.changes.Profiles[keep.ID] = keep
		tb.active[keep.ID] = true
	}
	return nil
}

// retire records that absorbed is merged into survivor: it leaves its
// segments, is deleted, and its id leads to survivor.
func (h *ApplyEventsHandler) retire(tb *tenantBatch, survivor, absorbed *profile.Profile) {
	for seg, since := range absorbed.Memberships {
		tb.changes.Left = append(tb.changes.Left, profile.Membership{Tenant: tb.tenant, ProfileID: absorbed.ID, Segment: seg, Since: since})
	}
	delete(tb.changes.Profiles, absorbed.ID)
	for from, to := range tb.changes.Absorbed {
		if to == absorbed.ID {
			tb.changes.Absorbed[from] = survivor.ID
		}
	}
	tb.changes.Absorbed[absorbed.ID] = survivor.ID
	delete(tb.loaded, absorbed.ID)
}

// carryOver folds into survivor the events a profile it absorbed before
// took since, read back from the stream in stream order; one the stream no
// longer holds is recorded without its effects.
func (h *ApplyEventsHandler) carryOver(ctx context.Context, survivor, absorbed *profile.Profile) error {
	lacks, joined := survivor.Reabsorb(absorbed)
	if len(lacks) == 0 {
		if joined {
			survivor.Revision++ // readers' caches go by revision
		}
		return nil
	}
	seqs := make([]uint64, 0, len(lacks))
	for _, r := range lacks {
		if r.Seq != 0 {
			seqs = append(seqs, r.Seq)
		}
	}
	events, err := h.events.EventsAt(ctx, survivor.Tenant, seqs)
	if err != nil {
		return fmt.Errorf("carry events over to the surviving profile: %w", err)
	}
	for _, r := range lacks {
		if e, ok := events[r.Seq]; ok && r.Seq != 0 && e.ID == r.ID {
			survivor.Apply(e)
		} else {
			survivor.Record(r)
		}
	}
	return nil
}

func (h *ApplyEventsHandler) recordSegment(tb *tenantBatch, p *profile.Profile, c profile.SegmentChange) {
	m := profile.Membership{Tenant: tb.tenant, ProfileID: p.ID, Segment: c.Segment, Since: c.At}
	if c.Entered {
		tb.changes.Joined = append(tb.changes.Joined, m)
	} else {
		tb.changes.Left = append(tb.changes.Left, m)
	}
	tb.segEvent = append(tb.segEvent, SegmentEvent{Tenant: tb.tenant, ProfileID: p.ID, Customer: p.Identities, Change: c})
}

// primary is the most authoritative of an event's identities: it names a
// new profile, so the same first event gives the same id on every replay.
func primary(ids []profile.Identity) profile.Identity {
	best := ids[0]
	rank := map[profile.Kind]int{profile.CustomerID: 0, profile.Email: 1, profile.Phone: 2, profile.AnonymousID: 3}
	for _, id := range ids[1:] {
		if rank[id.Kind] < rank[best.Kind] {
			best = id
		}
	}
	return best
}

// SweepSegments re-evaluates every profile's segments at now: customers
// become at risk or churned when time passes, not at their next event. It
// holds the fold's lock one profile at a time.
func (h *ApplyEventsHandler) SweepSegments(ctx context.Context, profiles func(context.Context) ([]ProfileRef, error), now time.Time) (int, error) {
	refs, err := profiles(ctx)
	if err != nil {
		return 0, err
	}
	if h.rules.VIPTopPercent > 0 {
		if err := h.updateCutoffs(ctx, refs); err != nil {
			return 0, err
		}
	}
	changed := 0
	for _, ref := range refs {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		n, err := h.sweepOne(ctx, ref, now)
		if err != nil {
			return changed, err
		}
		changed += n
	}
	return changed, nil
}

// updateCutoffs recomputes every tenant's top-spender cut-offs from the
// revenues of all its customers, and stores them.
func (h *ApplyEventsHandler) updateCutoffs(ctx context.Context, refs []ProfileRef) error {
	revenues := map[string]map[string][]string{} // tenant -> currency -> revenues
	for _, ref := range refs {
		if ref.Absorbed {
			continue
		}
		h.mu.Lock()
		p, err := h.repo.Get(ctx, ref.Tenant, ref.ID)
		var totals []profile.CurrencyTotals
		if err == nil {
			totals = p.Commerce().ByCurrency
		}
		h.mu.Unlock()
		if errors.Is(err, profile.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if revenues[ref.Tenant] == nil {
			revenues[ref.Tenant] = map[string][]string{}
		}
		for _, t := range totals {
			revenues[ref.Tenant][t.Currency] = append(revenues[ref.Tenant][t.Currency], t.Revenue)
		}
	}
	for tenant, byCur := range revenues {
		c := profile.Amounts{}
		for cur, rs := range byCur {
			if v := profile.TopCutoff(rs, h.rules.VIPTopPercent); v != "" {
				c[cur] = v
			}
		}
		if err := h.repo.SaveCutoffs(ctx, tenant, c); err != nil {
			return err
		}
		h.mu.Lock()
		h.cutoffs[tenant] = c
		h.mu.Unlock()
	}
	return nil
}

// ProfileRef names a profile.
type ProfileRef struct {
	Tenant, ID string
	// Absorbed marks a profile whose id already leads to another: it was
	// merged away, and the commit that merged it stopped before deleting
	// it. The sweep deletes it.
	Absorbed bool
}

func (h *ApplyEventsHandler) sweepOne(ctx context.Context, ref ProfileRef, now time.Time) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ref.Absorbed {
		// Its survivor holds its history and its identities lead there:
		// finish the merge, or readers by its id and the KPIs see it twice.
		// One that took events since is live, and swept as any other.
		removed, err := h.repo.RemoveAbsorbed(ctx, ref.Tenant, ref.ID)
		if err != nil {
			return 0, err
		}
		if removed {
			h.cache.Remove(ctx, ref.Tenant, ref.ID)
			return 0, nil
		}
		n, done, err := h.finishMerge(ctx, ref, now)
		if err != nil {
			h.rollback()
			return 0, err
		}
		if done {
			return n, nil
		}
	}
	p, err := h.repo.Get(ctx, ref.Tenant, ref.ID)
	if errors.Is(err, profile.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rules, err := h.rulesFor(ctx, ref.Tenant)
	if err != nil {
		return 0, err
	}
	changes := p.UpdateSegments(now, rules)
	if len(changes) == 0 {
		return 0, nil
	}
	tb := newTenantBatch(ref.Tenant)
	tb.changes.Profiles[p.ID] = p
	for _, c := range changes {
		h.recordSegment(tb, p, c)
	}
	rev := p.Revision
	if err := h.announce(ctx, tb); err != nil {
		h.rollback()
		return 0, err
	}
	if p.Revision == rev {
		// Every announcement was folded before (a transition announced
		// again): the memberships still changed, and caches go by revision.
		p.Revision++
	}
	stored, err := h.repo.Commit(ctx, ref.Tenant, tb.changes)
	if err != nil {
		h.rollback()
		return 0, err
	}
	h.cache.Store(ctx, stored...)
	h.written(ref.Tenant, stored, nil)
	return len(changes), nil
}

// finishMerge carries the events an absorbed profile left behind took since
// its merge over to its survivor, then retires it, as the fold does when an
// event names both. It reports false when ref has no survivor to go to.
func (h *ApplyEventsHandler) finishMerge(ctx context.Context, ref ProfileRef, now time.Time) (int, bool, error) {
	into, err := h.repo.MergedInto(ctx, ref.Tenant, ref.ID)
	if err != nil || into == "" || into == ref.ID {
		return 0, false, err
	}
	absorbed, err := h.repo.Get(ctx, ref.Tenant, ref.ID)
	if errors.Is(err, profile.ErrNotFound) || (err == nil && absorbed.ID != ref.ID) {
		return 0, true, nil // deleted since it was listed (Get followed its redirect)
	}
	if err != nil {
		return 0, false, err
	}
	survivor, err := h.repo.Get(ctx, ref.Tenant, into)
	if errors.Is(err, profile.ErrNotFound) || (err == nil && survivor.ID == absorbed.ID) {
		return 0, false, nil // nothing to carry it to: it stays live
	}
	if err != nil {
		return 0, false, err
	}
	rules, err := h.rulesFor(ctx, ref.Tenant)
	if err != nil {
		return 0, false, err
	}
	tb := newTenantBatch(ref.Tenant)
	if err := h.carryOver(ctx, survivor, absorbed); err != nil {
		return 0, false, err
	}
	h.retire(tb, survivor, absorbed)
	for _, id := range survivor.Identities {
		tb.changes.Identities[id.Key()] = survivor.ID
	}
	tb.changes.Profiles[survivor.ID] = survivor
	changes := survivor.UpdateSegments(now, rules)
	for _, c := range changes {
		h.recordSegment(tb, survivor, c)
	}
	if len(tb.segEvent) > 0 {
		if err := h.announce(ctx, tb); err != nil {
			return 0, false, err
		}
	}
	stored, err := h.repo.Commit(ctx, ref.Tenant, tb.changes)
	if err != nil {
		return 0, false, err
	}
	h.cache.Store(ctx, stored...)
	h.cache.Remove(ctx, ref.Tenant, absorbed.ID)
	h.cache.StoreIdentities(ctx, ref.Tenant, tb.changes.Identities)
	h.written(ref.Tenant, stored, tb.changes.Absorbed)
	return len(changes), true, nil
}
