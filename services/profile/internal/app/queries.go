package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// Errors of the read side, mapped to status codes by the ports.
var (
	// ErrInvalid is a request the caller must change; it names the field.
	ErrInvalid = errors.New("invalid request")
	// ErrUnknownTenant is a tenant with no profiles at all.
	ErrUnknownTenant = errors.New("unknown tenant")
)

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// Store is what reads need of the durable store.
type Store interface {
	// Load reads a profile fresh.
	Load(ctx context.Context, tenant, id string) (*profile.Profile, error)
	// ProfileIDOf returns the profile holding an identity key, or ErrNotFound.
	ProfileIDOf(ctx context.Context, tenant, key string) (string, error)
	// Members lists a segment's members.
	Members(ctx context.Context, tenant, segment string) ([]profile.Membership, error)
	// Profiles yields every profile of a tenant.
	Profiles(ctx context.Context, tenant string) iter.Seq2[*profile.Profile, error]
	// TenantExists reports whether the tenant has any profile.
	TenantExists(ctx context.Context, tenant string) (bool, error)
	// Cutoffs returns the tenant's top-spender cut-offs.
	Cutoffs(ctx context.Context, tenant string) (profile.Amounts, error)
}

// Cache is the read-through hot cache in front of Store.
type Cache interface {
	Profile(ctx context.Context, tenant, id string, load func(context.Context) (*profile.Profile, error)) (*profile.Profile, error)
	Identity(ctx context.Context, tenant, key string, load func(context.Context) (string, error)) (string, error)
}

// Queries answers the read API.
type Queries struct {
	store Store
	cache Cache
	rules profile.Rules
	now   func() time.Time

	mu      sync.Mutex
	cutoffs map[string]cutoffs
	// holders remembers which profile holds an identity ("<tenant> <key>"
	// -> profile id), so a read by identity costs one cache read, not two.
	// An identity only ever moves when its profile is merged into another,
	// and a merged profile's id still leads to the survivor, so an entry
	// gone stale answers rightly, only more slowly, and is corrected then.
	holders map[string]string
}

// maxHolders bounds the identities Queries remembers (about 150 bytes each).
const maxHolders = 100_000

// cutoffs are a tenant's top-spender cut-offs as last read.
type cutoffs struct {
	c    profile.Amounts
	read time.Time
}

// cutoffsMaxAge is how long read cut-offs are trusted; the sweep that
// changes them runs every few minutes.
const cutoffsMaxAge = time.Minute

// NewQueries checks its dependencies.
func NewQueries(store Store, cache Cache, rules profile.Rules, now func() time.Time) (*Queries, error) {
	if store == nil || cache == nil || now == nil {
		return nil, errors.New("app: store, cache and clock are required")
	}
	return &Queries{store: store, cache: cache, rules: rules, now: now, cutoffs: map[string]cutoffs{}, holders: map[string]string{}}, nil
}

// RulesFor are the lifecycle rules reads of tenant are computed with,
// including its top-spender cut-offs.
func (q *Queries) RulesFor(ctx context.Context, tenant string) (profile.Rules, error) {
	if q.rules.VIPTopPercent <= 0 {
		return q.rules, nil
	}
	q.mu.Lock()
	c, ok := q.cutoffs[tenant]
	q.mu.Unlock()
	if !ok || q.now().Sub(c.read) > cutoffsMaxAge {
		got, err := q.store.Cutoffs(ctx, tenant)
		if err != nil {
			return q.rules, err
		}
		c = cutoffs{c: got, read: q.now()}
		q.mu.Lock()
		q.cutoffs[tenant] = c
		q.mu.Unlock()
	}
	return q.rules.WithCutoffs(c.c), nil
}

// Now is the clock reads are computed at.
func (q *Queries) Now() time.Time { return q.now() }

// Ref names a customer by profile id or by any one identity.
type Ref struct {
	ProfileID string
	Identity  profile.Identity
}

func (q *Queries) checkTenant(ctx context.Context, tenant string) error {
	if tenant == "" {
		return invalid("tenant", "is required")
	}
	ok, err := q.store.TenantExists(ctx, tenant)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTenant, tenant)
	}
	return nil
}

// Profile finds a customer's profile, through the cache. A profile id or
// identity of another tenant is simply not found: every key is scoped by
// tenant.
func (q *Queries) Profile(ctx context.Context, tenant string, ref Ref) (*profile.Profile, error) {
	if err := q.checkTenant(ctx, tenant); err != nil {
		return nil, err
	}
	if ref.ProfileID != "" {
		return q.load(ctx, tenant, ref.ProfileID)
	}
	n := ref.Identity.Normalized()
	if n.Value == "" {
		return nil, invalid("customer", "needs a profile_id or one of customer_id, email, phone, anonymous_id")
	}
	key := n.Key()
	holder := tenant + " " + key
	q.mu.Lock()
	id := q.holders[holder]
	q.mu.Unlock()
	if id != "" {
		// A remembered holder is trusted only when the profile it leads to
		// still holds the identity: a merge whose clean-up did not finish
		// can leave the absorbed profile behind.
		p, err := q.load(ctx, tenant, id)
		if err == nil && slices.Contains(p.Identities, n) {
			q.remember(holder, p.ID)
			return p, nil
		}
		if err != nil && !errors.Is(err, profile.ErrNotFound) {
			return nil, err
		}
		q.mu.Lock()
		delete(q.holders, holder)
		q.mu.Unlock()
	}
	id, err := q.cache.Identity(ctx, tenant, key, func(ctx context.Context) (string, error) {
		return q.store.ProfileIDOf(ctx, tenant, key)
	})
	if err != nil {
		return nil, err
	}
	p, err := q.load(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	q.remember(holder, p.ID) // the survivor, when id was merged away
	return p, nil
}

func (q *Queries) load(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	return q.cache.Profile(ctx, tenant, id, func(ctx context.Context) (*profile.Profile, error) {
		return q.store.Load(ctx, tenant, id)
	})
}

// remember notes which profile holds an identity, forgetting one at random
// when full.
func (q *Queries) remember(holder, id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, known := q.holders[holder]; !known && len(q.holders) >= maxHolders {
		for k := range q.holders {
			delete(q.holders, k)
			break
		}
	}
	q.holders[holder] = id
}

// TimelineFilter narrows a timeline.
type TimelineFilter struct {
	Types      []string
	Start, End time.Time
}

// Timeline is a page of a customer's applied events, newest first by event
// time.
func (q *Queries) Timeline(ctx context.Context, tenant string, ref Ref, f TimelineFilter, size int, token string) ([]profile.EventRef, string, error) {
	size, offset, err := page(size, 50, 500, token)
	if err != nil {
		return nil, "", err
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		return nil, "", invalid("end_time", "must be after start_time")
	}
	p, err := q.Profile(ctx, tenant, ref)
	if err != nil {
		return nil, "", err
	}
	var refs []profile.EventRef
	for _, r := range p.Applied {
		if (len(f.Types) == 0 || slices.Contains(f.Types, r.Type)) &&
			(f.Start.IsZero() || !r.At.Before(f.Start)) && (f.End.IsZero() || r.At.Before(f.End)) {
			refs = append(refs, r)
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if !refs[i].At.Equal(refs[j].At) {
			return refs[i].At.After(refs[j].At)
		}
		return refs[i].Seq > refs[j].Seq
	})
	out, next := cut(refs, offset, size)
	return out, next, nil
}

// Member is one customer in a segment.
type Member struct {
	Profile *profile.Profile
	Since   time.Time
}

// SegmentMembers is a page of a segment's members, longest in it first.
func (q *Queries) SegmentMembers(ctx context.Context, tenant, segment string, size int, token string) ([]Member, string, error) {
	if segment == "" {
		return nil, "", invalid("segment", "is required, such as \"vip\" or \"at_risk\"")
	}
	size, offset, err := page(size, 100, 1000, token)
	if err != nil {
		return nil, "", err
	}
	if err := q.checkTenant(ctx, tenant); err != nil {
		return nil, "", err
	}
	ms, err := q.store.Members(ctx, tenant, segment)
	if err != nil {
		return nil, "", err
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].Since.Equal(ms[j].Since) {
			return ms[i].Since.Before(ms[j].Since)
		}
		return ms[i].ProfileID < ms[j].ProfileID
	})
	pageOf, next := cut(ms, offset, size)
	out := make([]Member, 0, len(pageOf))
	for _, m := range pageOf {
		p, err := q.cache.Profile(ctx, tenant, m.ProfileID, func(ctx context.Context) (*profile.Profile, error) {
			return q.store.Load(ctx, tenant, m.ProfileID)
		})
		if errors.Is(err, profile.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, Member{Profile: p, Since: m.Since})
	}
	return out, next, nil
}

// Merges is a page of the merges behind a profile, newest first.
func (q *Queries) Merges(ctx context.Context, tenant string, ref Ref, size int, token string) ([]profile.Merge, string, error) {
	size, offset, err := page(size, 100, 1000, token)
	if err != nil {
		return nil, "", err
	}
	p, err := q.Profile(ctx, tenant, ref)
	if err != nil {
		return nil, "", err
	}
	ms := slices.Clone(p.Merges)
	slices.Reverse(ms)
	out, next := cut(ms, offset, size)
	return out, next, nil
}

// Profiles yields a tenant's profiles, for reports.
func (q *Queries) Profiles(ctx context.Context, tenant string) (iter.Seq2[*profile.Profile, error], error) {
	if err := q.checkTenant(ctx, tenant); err != nil {
		return nil, err
	}
	return q.store.Profiles(ctx, tenant), nil
}

// page reads a page size and token: tokens are opaque offsets.
func page(size, def, max int, token string) (int, int, error) {
	switch {
	case size < 0:
		return 0, 0, invalid("page_size", "must not be negative")
	case size == 0:
		size = def
	case size > max:
		size = max
	}
	if token == "" {
		return size, 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	offset, perr := strconv.Atoi(string(b))
	if err != nil || perr != nil || offset < 0 {
		return 0, 0, invalid("page_token", "is not a token this API gave out")
	}
	return size, offset, nil
}

func cut[T any](all []T, offset, size int) ([]T, string) {
	if offset >= len(all) {
		return nil, ""
	}
	end := min(offset+size, len(all))
	next := ""
	if end < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return all[offset:end], next
}
