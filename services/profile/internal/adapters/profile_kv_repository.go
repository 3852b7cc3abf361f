// Package adapters holds what the profile service talks out to: the
// JetStream key-value bucket that is its durable store, the Redis cache and
// the journey stream it publishes segment changes into.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// KVRepository keeps profiles in the PROFILES JetStream key-value bucket:
// replicated with the NATS cluster, no second database to run. Writes of a
// batch are published asynchronously and awaited together; each profile
// write names the revision it replaces, so a concurrent writer (a second
// replica) is detected instead of overwritten.
//
// It remembers what it wrote and read (up to CacheEntries profiles) so the
// fold does not read back its own writes; the memory is dropped when a
// commit fails.
type KVRepository struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	prefix  string
	timeout time.Duration
	limit   int

	mu       sync.Mutex
	profiles map[string]cachedProfile // "<tenant>.p.<id>"
	index    map[string]string        // "<tenant>.i.<key>" -> profile id
	tenants  map[string]bool          // tenants whose marker is written
}

type cachedProfile struct {
	p   *profile.Profile
	rev uint64
}

// NewKVRepository opens the repository over the PROFILES bucket.
func NewKVRepository(ctx context.Context, js jetstream.JetStream, timeout time.Duration, cacheEntries int) (*KVRepository, error) {
	kv, err := js.KeyValue(ctx, topology.ProfileBucket)
	if err != nil {
		return nil, fmt.Errorf("profile store: bucket %s: %w", topology.ProfileBucket, err)
	}
	return &KVRepository{js: js, kv: kv, prefix: "$KV." + topology.ProfileBucket + ".", timeout: timeout, limit: cacheEntries,
		profiles: map[string]cachedProfile{}, index: map[string]string{}, tenants: map[string]bool{}}, nil
}

var _ profile.Repository = (*KVRepository)(nil)

func profileKey(tenant, id string) string     { return tenant + ".p." + id }
func identityKey(tenant, key string) string   { return tenant + ".i." + key }
func memberKey(tenant, seg, id string) string { return tenant + ".s." + seg + "." + id }
func tenantKey(tenant string) string          { return tenant + ".tenant" }
func mergedKey(tenant, id string) string      { return tenant + ".m." + id }

// Resolve returns the profiles holding any of keys.
func (r *KVRepository) Resolve(ctx context.Context, tenant string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var missing []string
	r.mu.Lock()
	for _, k := range keys {
		if id, ok := r.index[identityKey(tenant, k)]; ok {
			out[k] = id
		} else {
			missing = append(missing, k)
		}
	}
	r.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found := make([]string, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i, k := range missing {
		g.Go(func() error {
			e, err := r.kv.Get(gctx, identityKey(tenant, k))
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
				return nil
			case err != nil:
				return fmt.Errorf("profile store: identity lookup: %w", err)
			}
			found[i] = string(e.Value())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range missing {
		if found[i] != "" {
			out[k] = found[i]
			r.remember(identityKey(tenant, k), found[i])
		}
	}
	return out, nil
}

// Get returns the profile for the fold; the pointer may be one the
// repository remembers, so callers change it only to commit it.
func (r *KVRepository) Get(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	return r.get(ctx, tenant, id, 0)
}

// maxRedirects bounds following merged ids: a cycle (which a merge never
// writes) fails rather than hangs the fold.
const maxRedirects = 8

func (r *KVRepository) get(ctx context.Context, tenant, id string, hops int) (*profile.Profile, error) {
	key := profileKey(tenant, id)
	r.mu.Lock()
	c, ok := r.profiles[key]
	r.mu.Unlock()
	if ok {
		return c.p, nil
	}
	p, rev, err := r.load(ctx, key)
	if errors.Is(err, profile.ErrNotFound) {
		// An identity may still lead to a profile merged away (a commit
		// that failed after its delete): follow the redirect.
		if e, merr := r.kv.Get(ctx, mergedKey(tenant, id)); merr == nil && hops < maxRedirects {
			return r.get(ctx, tenant, string(e.Value()), hops+1)
		}
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.rememberProfile(key, cachedProfile{p: p, rev: rev})
	r.mu.Unlock()
	return p, nil
}

// Load reads a profile fresh from the bucket, for readers: never a pointer
// the fold may be changing. The id of a profile merged into another leads
// to the survivor.
func (r *KVRepository) Load(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	for hops := 0; ; hops++ {
		p, _, err := r.load(ctx, profileKey(tenant, id))
		if !errors.Is(err, profile.ErrNotFound) || hops == maxRedirects {
			return p, err
		}
		e, merr := r.kv.Get(ctx, mergedKey(tenant, id))
		if errors.Is(merr, jetstream.ErrKeyNotFound) {
			return nil, profile.ErrNotFound
		}
		if merr != nil {
			return nil, fmt.Errorf("profile store: %w", merr)
		}
		id = string(e.Value())
	}
}

// ProfileIDOf returns the id of the profile holding an identity key.
func (r *KVRepository) ProfileIDOf(ctx context.Context, tenant, identityKeyHash string) (string, error) {
	e, err := r.kv.Get(ctx, identityKey(tenant, identityKeyHash))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", profile.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("profile store: %w", err)
	}
	return string(e.Value()), nil
}

// TenantExists reports whether a tenant has had any profile: its marker is
// written with its first commit.
//
// A marker is never removed, so a tenant once seen is remembered in the
// process: reads do not pay a bucket round trip each to learn it again.
func (r *KVRepository) TenantExists(ctx context.Context, tenant string) (bool, error) {
	r.mu.Lock()
	known := r.tenants[tenant]
	r.mu.Unlock()
	if known {
		return true, nil
	}
	_, err := r.kv.Get(ctx, tenantKey(tenant))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("profile store: %w", err)
	}
	r.mu.Lock()
	r.tenants[tenant] = true
	r.mu.Unlock()
	return true, nil
}

func (r *KVRepository) load(ctx context.Context, key string) (*profile.Profile, uint64, error) {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, profile.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("profile store: %w", err)
	}
	p, err := decodeProfile(e.Value())
	if err != nil {
		return nil, 0, fmt.Errorf("profile store: %s is not a profile: %w", key, err)
	}
	return p, e.Revision(), nil
}

// remember and rememberProfile keep what the repository saw. Nothing is
// forgotten during a batch — a profile loaded for it must keep the revision
// its write is conditional on — only after a commit (trim). Callers hold
// r.mu.
func (r *KVRepository) remember(key, id string) { r.index[key] = id }

func (r *KVRepository) rememberProfile(key string, c cachedProfile) { r.profiles[key] = c }

// trim forgets arbitrary entries past the limit, between batches. Callers
// hold r.mu.
func (r *KVRepository) trim() {
	for k := range r.profiles {
		if len(r.profiles) <= r.limit {
			break
		}
		delete(r.profiles, k)
	}
	for k := range r.index {
		if len(r.index) <= r.limit {
			break
		}
		delete(r.index, k)
	}
}

// Rollback forgets what the repository remembers, with any uncommitted
// change made to it.
func (r *KVRepository) Rollback() { r.forget() }

func (r *KVRepository) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.profiles = map[string]cachedProfile{}
	r.index = map[string]string{}
}

// Commit writes one tenant's changes in three phases, each awaited before
// the next: the profiles (each conditional on the revision it replaces);
// then identity index entries, merge redirects and segment memberships;
// only then the deletion of absorbed profiles. A failure in a phase leaves
// the later ones unwritten, so an absorbed profile is never deleted before
// its survivor holds its history, and a retry converges: every write is
// idempotent.
func (r *KVRepository) Commit(ctx context.Context, tenant string, c profile.Changes) ([]profile.Stored, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	stored, err := r.commit(ctx, tenant, c)
	if err != nil {
		r.forget()
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, id := range c.Identities {
		r.index[identityKey(tenant, k)] = id
	}
	for id := range c.Absorbed {
		delete(r.profiles, profileKey(tenant, id))
	}
	r.tenants[tenant] = true
	r.trim()
	return stored, nil
}

// phase publishes a set of writes and waits for all of them.
type phase struct {
	r       *KVRepository
	futures []jetstream.PubAckFuture
	keys    []string
	err     error
}

func (ph *phase) put(key string, data []byte, h nats.Header) {
	if ph.err != nil {
		return
	}
	f, err := ph.r.js.PublishMsgAsync(&nats.Msg{Subject: ph.r.prefix + key, Data: data, Header: h})
	if err != nil {
		ph.err = fmt.Errorf("profile store: write %s: %w", key, err)
		return
	}
	ph.futures = append(ph.futures, f)
	ph.keys = append(ph.keys, key)
}

// wait returns the sequence of each write, in order.
func (ph *phase) wait(ctx context.Context) ([]uint64, error) {
	seqs := make([]uint64, len(ph.futures))
	for i, f := range ph.futures {
		if ph.err != nil {
			break
		}
		select {
		case a := <-f.Ok():
			seqs[i] = a.Sequence
		case e := <-f.Err():
			ph.err = fmt.Errorf("profile store: write %s: %w", ph.keys[i], e)
		case <-ctx.Done():
			ph.err = fmt.Errorf("profile store: no acknowledgement within %s", ph.r.timeout)
		}
	}
	return seqs, ph.err
}

func (r *KVRepository) commit(ctx context.Context, tenant string, c profile.Changes) ([]profile.Stored, error) {
	// Phase 1: the profiles, each conditional on the revision it replaces.
	p1 := &phase{r: r}
	written := make([]profile.Stored, 0, len(c.Profiles))
	r.mu.Lock()
	for id, p := range c.Profiles {
		key := profileKey(tenant, id)
		data, err := encodeProfile(p)
		if err != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("profile store: %w", err)
		}
		h := nats.Header{}
		h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(r.profiles[key].rev, 10))
		p1.put(key, data, h)
		written = append(written, profile.Stored{Profile: p, Data: data})
	}
	r.mu.Unlock()
	seqs, err := p1.wait(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	for i, w := range written {
		r.profiles[profileKey(tenant, w.Profile.ID)] = cachedProfile{p: w.Profile, rev: seqs[i]}
	}
	newTenant := !r.tenants[tenant]
	r.mu.Unlock()

	// Phase 2: where identities and merged ids lead, and memberships.
	p2 := &phase{r: r}
	if newTenant {
		p2.put(tenantKey(tenant), []byte(time.Now().UTC().Format(time.RFC3339)), nil)
	}
	for k, id := range c.Identities {
		p2.put(identityKey(tenant, k), []byte(id), nil)
	}
	for id, survivor := range c.Absorbed {
		p2.put(mergedKey(tenant, id), []byte(survivor), nil)
	}
	del := func() nats.Header { return nats.Header{"KV-Operation": []string{"DEL"}} }
	for _, m := range c.Joined {
		p2.put(memberKey(tenant, m.Segment, m.ProfileID), []byte(m.Since.UTC().Format(time.RFC3339Nano)), nil)
	}
	for _, m := range c.Left {
		p2.put(memberKey(tenant, m.Segment, m.ProfileID), nil, del())
	}
	if _, err := p2.wait(ctx); err != nil {
		return nil, err
	}

	// Phase 3: absorbed profiles, now held by their survivors, go.
	p3 := &phase{r: r}
	for id := range c.Absorbed {
		p3.put(profileKey(tenant, id), nil, del())
	}
	if _, err := p3.wait(ctx); err != nil {
		return nil, err
	}
	return written, nil
}

// Profiles yields every profile of tenant ("" for all tenants), read fresh.
// A profile absorbed into another but left behind by a failed commit (last
// written before its redirect) is not yielded: its survivor holds its
// history.
func (r *KVRepository) Profiles(ctx context.Context, tenant string) iter.Seq2[*profile.Profile, error] {
	return func(yield func(*profile.Profile, error) bool) {
		filter := "*."
		if tenant != "" {
			filter = tenant + "."
		}
		merged := map[string]bool{}
		for key, err := range r.keys(ctx, filter+"m.*") {
			if err != nil {
				yield(nil, err)
				return
			}
			merged[strings.Replace(key, ".m.", ".p.", 1)] = true
		}
		for key, err := range r.keys(ctx, filter+"p.*") {
			if err != nil {
				yield(nil, err)
				return
			}
			if merged[key] {
				parts := strings.SplitN(key, ".", 3)
				left, _, err := r.leftBehind(ctx, parts[0], parts[2])
				if err != nil {
					yield(nil, err)
					return
				}
				if left {
					continue
				}
			}
			p, _, err := r.load(ctx, key)
			if errors.Is(err, profile.ErrNotFound) {
				continue // deleted since listed
			}
			if !yield(p, err) {
				return
			}
		}
	}
}

// Members lists the members of a segment and when they joined.
func (r *KVRepository) Members(ctx context.Context, tenant, segment string) ([]profile.Membership, error) {
	lister, err := r.kv.ListKeysFiltered(ctx, memberKey(tenant, segment, "*"))
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profile store: list segment: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []profile.Membership
	for key := range lister.Keys() {
		e, err := r.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("profile store: %w", err)
		}
		since, _ := time.Parse(time.RFC3339Nano, string(e.Value()))
		out = append(out, profile.Membership{Tenant: tenant, Segment: segment, ProfileID: key[strings.LastIndexByte(key, '.')+1:], Since: since})
	}
	return out, nil
}

// Refs lists every profile of every tenant, for the segment sweep, marking
// those whose id already leads to another profile (absorbed, but left by a
// commit that failed before deleting them).
func (r *KVRepository) Refs(ctx context.Context) ([]app.ProfileRef, error) {
	merged := map[string]bool{} // "<tenant>.<id>"
	for key, err := range r.keys(ctx, "*.m.*") {
		if err != nil {
			return nil, err
		}
		if parts := strings.SplitN(key, ".", 3); len(parts) == 3 {
			merged[parts[0]+"."+parts[2]] = true
		}
	}
	var refs []app.ProfileRef
	for key, err := range r.keys(ctx, "*.p.*") {
		if err != nil {
			return nil, err
		}
		if parts := strings.SplitN(key, ".", 3); len(parts) == 3 {
			refs = append(refs, app.ProfileRef{Tenant: parts[0], ID: parts[2], Absorbed: merged[parts[0]+"."+parts[2]]})
		}
	}
	return refs, nil
}

// keys yields the bucket's keys matching filter.
func (r *KVRepository) keys(ctx context.Context, filter string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		lister, err := r.kv.ListKeysFiltered(ctx, filter)
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return
		}
		if err != nil {
			yield("", fmt.Errorf("profile store: list: %w", err))
			return
		}
		defer func() { _ = lister.Stop() }()
		for key := range lister.Keys() {
			if !yield(key, nil) {
				return
			}
		}
	}
}

// RemoveAbsorbed deletes an absorbed profile left behind, and reports
// whether it did. It does only when the survivor holds every event the
// absorbed profile holds: a commit whose index entries landed only in part
// can leave an identity leading to the absorbed profile, which then takes
// events the survivor lacks, and is kept (the delete names the revision it
// read, so a write in between also keeps it).
func (r *KVRepository) RemoveAbsorbed(ctx context.Context, tenant, id string) (bool, error) {
	left, rev, err := r.leftBehind(ctx, tenant, id)
	if err != nil || !left {
		return false, err
	}
	if err := r.kv.Delete(ctx, profileKey(tenant, id), jetstream.LastRevision(rev)); err != nil {
		return false, fmt.Errorf("profile store: delete absorbed %s: %w", id, err)
	}
	r.mu.Lock()
	delete(r.profiles, profileKey(tenant, id))
	r.mu.Unlock()
	return true, nil
}

// leftBehind reports whether profile id of tenant is stored although it was
// merged away, its survivor holding every event it holds, with the
// revision it was read at.
func (r *KVRepository) leftBehind(ctx context.Context, tenant, id string) (bool, uint64, error) {
	absorbed, rev, err := r.load(ctx, profileKey(tenant, id))
	if errors.Is(err, profile.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	m, err := r.kv.Get(ctx, mergedKey(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("profile store: %w", err)
	}
	survivor, err := r.Load(ctx, tenant, string(m.Value()))
	if errors.Is(err, profile.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	for _, e := range absorbed.Applied {
		if !survivor.HasApplied(e.ID) {
			return false, 0, nil
		}
	}
	return true, rev, nil
}

// MergedInto returns the survivor a merged-away profile id leads to, or "".
func (r *KVRepository) MergedInto(ctx context.Context, tenant, id string) (string, error) {
	m, err := r.kv.Get(ctx, mergedKey(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("profile store: %w", err)
	}
	return string(m.Value()), nil
}

func cutoffKey(tenant string) string { return tenant + ".vipcutoff" }

// Cutoffs returns the tenant's top-spender cut-offs.
func (r *KVRepository) Cutoffs(ctx context.Context, tenant string) (profile.Amounts, error) {
	e, err := r.kv.Get(ctx, cutoffKey(tenant))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profile store: %w", err)
	}
	var a profile.Amounts
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return nil, fmt.Errorf("profile store: cut-offs of %s: %w", tenant, err)
	}
	return a, nil
}

// SaveCutoffs stores the tenant's top-spender cut-offs.
func (r *KVRepository) SaveCutoffs(ctx context.Context, tenant string, c profile.Amounts) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := r.kv.Put(ctx, cutoffKey(tenant), data); err != nil {
		return fmt.Errorf("profile store: %w", err)
	}
	return nil
}

// StoreEpoch names this incarnation of the PROFILES bucket: it changes
// when the bucket is dropped and created again (a replay, a reset of NATS
// data). The Redis cache puts it in its keys, so entries of an earlier
// store — whose revisions the new one restarts below — are never served
// and never fence out the new store's writes; they expire by their TTL.
func StoreEpoch(ctx context.Context, js jetstream.JetStream) (string, error) {
	s, err := js.Stream(ctx, "KV_"+topology.ProfileBucket)
	if err != nil {
		return "", fmt.Errorf("profile store: bucket %s: %w", topology.ProfileBucket, err)
	}
	return strconv.FormatInt(s.CachedInfo().Created.UnixNano(), 36), nil
}
