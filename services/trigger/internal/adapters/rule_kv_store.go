package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// Rule store errors.
var (
	// ErrRuleNotFound: no such rule (or version) for the tenant.
	ErrRuleNotFound = errors.New("rule not found")
	// ErrVersionConflict: the rule changed since the version the caller saw.
	ErrVersionConflict = errors.New("rule changed since that version")
	// ErrRuleExists: a rule with that id exists already.
	ErrRuleExists = errors.New("rule exists")
)

// RuleStore keeps every version of every tenant's rules in the RULES bucket
// (key <tenant>.<rule id>, the bucket's history holding the versions) and
// a live copy in memory, kept current by a watch, so matching an event
// reads no storage. The default pack applies to every tenant unless the
// tenant has a rule of the same id (its own version of it, or a disabled
// copy).
type RuleStore struct {
	kv   jetstream.KeyValue
	pack map[string]rule.Rule

	mu    sync.RWMutex
	rules map[string]map[string]rule.Rule // tenant -> id -> latest
	ready chan struct{}
}

// NewRuleStore opens the bucket; pack is the default rule pack (may be nil).
func NewRuleStore(ctx context.Context, js jetstream.JetStream, pack []rule.Rule) (*RuleStore, error) {
	kv, err := js.KeyValue(ctx, topology.RulesBucket)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	s := &RuleStore{kv: kv, pack: map[string]rule.Rule{}, rules: map[string]map[string]rule.Rule{}, ready: make(chan struct{})}
	for _, r := range pack {
		s.pack[r.ID] = r
	}
	return s, nil
}

// Run keeps the in-memory copy current until ctx ends.
func (s *RuleStore) Run(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("rules: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				s.markReady()
				continue
			}
			s.apply(e)
		}
	}
}

func (s *RuleStore) markReady() {
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// WaitReady blocks until the first full load, or ctx ends.
func (s *RuleStore) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *RuleStore) apply(e jetstream.KeyValueEntry) {
	tenant, id, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.rules[tenant], id)
		return
	}
	var r rule.Rule
	if json.Unmarshal(e.Value(), &r) != nil {
		return
	}
	if s.rules[tenant] == nil {
		s.rules[tenant] = map[string]rule.Rule{}
	}
	s.rules[tenant][id] = r
}

var _ app.RuleSource = (*RuleStore)(nil)

// All returns a tenant's rules, its own and the pack's, by id.
func (s *RuleStore) All(tenant string) []rule.Rule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]rule.Rule, 0, len(s.pack)+len(s.rules[tenant]))
	for id, r := range s.pack {
		if _, own := s.rules[tenant][id]; !own {
			out = append(out, r)
		}
	}
	for _, r := range s.rules[tenant] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Rules returns the tenant's enabled rules, highest priority first.
func (s *RuleStore) Rules(_ context.Context, tenant string) ([]rule.Rule, error) {
	var out []rule.Rule
	for _, r := range s.All(tenant) {
		if r.Enabled {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Controls.Priority > out[j].Controls.Priority })
	return out, nil
}

// Rule returns version of a rule (0: the latest). The latest of each rule
// is served from memory; older versions are read from the bucket's history.
func (s *RuleStore) Rule(ctx context.Context, tenant, id string, version int) (rule.Rule, error) {
	s.mu.RLock()
	r, own := s.rules[tenant][id]
	p, packed := s.pack[id]
	s.mu.RUnlock()
	switch {
	case own && (version == 0 || version == r.Version):
		return r, nil
	case !own && packed && (version == 0 || version == p.Version):
		return p, nil
	}
	versions, err := s.Versions(ctx, tenant, id)
	if err != nil {
		return rule.Rule{}, err
	}
	if version == 0 {
		return versions[len(versions)-1], nil
	}
	for _, r := range versions {
		if r.Version == version {
			return r, nil
		}
	}
	return rule.Rule{}, fmt.Errorf("%w: %s version %d", ErrRuleNotFound, id, version)
}

// Versions returns every kept version of a rule, oldest first.
func (s *RuleStore) Versions(ctx context.Context, tenant, id string) ([]rule.Rule, error) {
	hist, err := s.kv.History(ctx, tenant+"."+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if r, ok := s.pack[id]; ok {
			return []rule.Rule{r}, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrRuleNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var out []rule.Rule
	if r, ok := s.pack[id]; ok {
		out = append(out, r)
	}
	for _, e := range hist {
		var r rule.Rule
		if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Put stores a new version of r for tenant: version 1 for a new rule,
// else one more than the latest (the pack's rule counts as the latest when
// the tenant has none of its own). expected, when not 0, must be the latest
// version. It returns the stored rule.
func (s *RuleStore) Put(ctx context.Context, tenant string, r rule.Rule, expected int, create bool) (rule.Rule, error) {
	key := tenant + "." + r.ID
	e, err := s.kv.Get(ctx, key)
	var latest int
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if p, ok := s.pack[r.ID]; ok {
			latest = p.Version
		}
	case err != nil:
		return rule.Rule{}, fmt.Errorf("rules: %w", err)
	default:
		var cur rule.Rule
		if err := json.Unmarshal(e.Value(), &cur); err != nil {
			return rule.Rule{}, fmt.Errorf("rules: %s: %w", key, err)
		}
		latest, rev = cur.Version, e.Revision()
	}
	switch {
	case create && latest > 0:
		return rule.Rule{}, fmt.Errorf("%w: %s (version %d)", ErrRuleExists, r.ID, latest)
	case !create && latest == 0:
		return rule.Rule{}, fmt.Errorf("%w: %s", ErrRuleNotFound, r.ID)
	case expected != 0 && expected != latest:
		return rule.Rule{}, fmt.Errorf("%w: latest is %d, not %d", ErrVersionConflict, latest, expected)
	}
	r.Version = latest + 1
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = time.Now().UTC()
	}
	data, err := json.Marshal(r)
	if err != nil {
		return rule.Rule{}, err
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, data)
	} else {
		_, err = s.kv.Update(ctx, key, data, rev)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return rule.Rule{}, fmt.Errorf("%w: changed concurrently", ErrVersionConflict)
	}
	if err != nil {
		return rule.Rule{}, fmt.Errorf("rules: %w", err)
	}
	s.mu.Lock()
	if s.rules[tenant] == nil {
		s.rules[tenant] = map[string]rule.Rule{}
	}
	s.rules[tenant][r.ID] = r
	s.mu.Unlock()
	return r, nil
}
