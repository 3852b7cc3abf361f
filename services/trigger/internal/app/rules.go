package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// ErrInvalidArgument is what every *ArgError unwraps to.
var ErrInvalidArgument = errors.New("invalid argument")

// ArgError names the request argument at fault, such as "tenant" or
// "page_token". Faults inside a rule are rule.Errors instead, which name
// the field by its path in the rule.
type ArgError struct {
	Field  string
	Reason string
}

func (e *ArgError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalidArgument.
func (e *ArgError) Unwrap() error { return ErrInvalidArgument }

// checkTenant refuses a tenant that cannot name one: its name is a token of
// NATS subjects and key-value keys, where "a.b" or "*" would reach into
// other tenants' data.
func checkTenant(tenant string) error {
	if tenant == "" {
		return &ArgError{"tenant", "is required"}
	}
	if err := journey.CheckTenant(tenant); err != nil {
		return &ArgError{"tenant", err.Error()}
	}
	return nil
}

// RuleRepository keeps every version of every tenant's rules;
// adapters.RuleStore implements it. The default pack is served for every
// tenant: a pack rule the tenant never changed comes back as it ships (its
// version 0 when the pack sets none), and storing a version of it stores
// the tenant's own.
type RuleRepository interface {
	// All returns the tenant's rules at their latest version, its own and
	// the pack's, by id.
	All(tenant string) []rule.Rule
	// Versions returns every kept version of a rule, oldest first.
	Versions(ctx context.Context, tenant, id string) ([]rule.Rule, error)
	// Rule returns one version of a rule; the latest when version is 0.
	Rule(ctx context.Context, tenant, id string, version int) (rule.Rule, error)
	// Put stores r as the next version and returns it as stored: version 1
	// when create, else one more than the latest. expected, when not 0,
	// must be the latest version.
	Put(ctx context.Context, tenant string, r rule.Rule, expected int, create bool) (rule.Rule, error)
}

// Page sizes of rule listings.
const (
	DefaultRulePageSize    = 100
	MaxRulePageSize        = 1000
	DefaultVersionPageSize = 50
	MaxVersionPageSize     = 500
	// maxActorLen bounds the recorded author of a change.
	maxActorLen = 256
	// changeAttempts bounds how often a change without an expected version
	// is re-applied when another change lands between its read and write.
	changeAttempts = 3
)

// Rules are the use cases of rule management: create, change, read, list,
// enable and disable, each change stored as a new version recording who
// made it and when.
type Rules struct {
	repo   RuleRepository
	timers Scheduler
	now    func() time.Time
}

// NewRules checks its dependencies. timers are cancelled when a rule is
// disabled.
func NewRules(repo RuleRepository, timers Scheduler, now func() time.Time) (*Rules, error) {
	if repo == nil || timers == nil || now == nil {
		return nil, errors.New("app: rule repository, scheduler and clock are required")
	}
	return &Rules{repo: repo, timers: timers, now: now}, nil
}

// Create validates r and stores it as version 1, enabled as r says, with an
// id generated when r has none. A rule that does not validate is
// rule.Errors naming every field at fault, and nothing is stored. An id in
// use, by the tenant or by the pack, is the repository's "exists" error.
func (u *Rules) Create(ctx context.Context, tenant string, r rule.Rule, actor string) (rule.Rule, error) {
	if err := checkTenant(tenant); err != nil {
		return rule.Rule{}, err
	}
	if err := checkActor(actor); err != nil {
		return rule.Rule{}, err
	}
	if r.ID == "" {
		r.ID = newRuleID()
	}
	r, err := u.prepare(r, actor)
	if err != nil {
		return rule.Rule{}, err
	}
	return u.repo.Put(ctx, tenant, r, 0, true)
}

// Update validates r and stores it as the next version of the rule r.ID
// names. Enabled is kept from the current version: only Enable and
// Disable change it. expected, when not 0, must be the current version,
// else the repository's conflict error; when 0, a change landing between
// reading the current version and storing the new one is retried.
func (u *Rules) Update(ctx context.Context, tenant string, r rule.Rule, expected int, actor string) (rule.Rule, error) {
	if err := checkTenant(tenant); err != nil {
		return rule.Rule{}, err
	}
	if err := checkActor(actor); err != nil {
		return rule.Rule{}, err
	}
	if expected < 0 {
		return rule.Rule{}, &ArgError{"expected_version", "must not be negative"}
	}
	r, err := u.prepare(r, actor)
	if err != nil {
		return rule.Rule{}, err
	}
	return u.change(ctx, tenant, r.ID, expected, func(cur rule.Rule) (rule.Rule, bool) {
		next := r
		next.Enabled = cur.Enabled
		return next, true
	})
}

// Get returns a rule at version, or at its current one when version is 0.
func (u *Rules) Get(ctx context.Context, tenant, id string, version int) (rule.Rule, error) {
	if err := checkTenant(tenant); err != nil {
		return rule.Rule{}, err
	}
	if err := checkRuleID(id); err != nil {
		return rule.Rule{}, err
	}
	if version < 0 {
		return rule.Rule{}, &ArgError{"version", "must not be negative"}
	}
	return u.repo.Rule(ctx, tenant, id, version)
}

// List returns a page of the tenant's rules at their current version, by
// id, only the enabled ones when enabledOnly, and the token of the next
// page ("" on the last). pageSize is DefaultRulePageSize when 0 or less,
// MaxRulePageSize at most. A token names the last rule of its page, not an
// offset, so rules created or removed between pages neither repeat nor
// skip others.
func (u *Rules) List(ctx context.Context, tenant string, enabledOnly bool, pageSize int, pageToken string) ([]rule.Rule, string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, "", err
	}
	after, err := decodePageToken(pageToken, "rules")
	if err != nil {
		return nil, "", err
	}
	size := pageSizeOf(pageSize, DefaultRulePageSize, MaxRulePageSize)
	var out []rule.Rule
	for _, r := range u.repo.All(tenant) {
		if (enabledOnly && !r.Enabled) || (pageToken != "" && r.ID <= after) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b rule.Rule) int { return strings.Compare(a.ID, b.ID) })
	if len(out) <= size {
		return out, "", nil
	}
	out = out[:size:size]
	return out, encodePageToken("rules", out[size-1].ID), nil
}

// ListVersions returns a page of a rule's versions, newest first, and the
// token of the next page ("" on the last). pageSize is
// DefaultVersionPageSize when 0 or less, MaxVersionPageSize at most.
func (u *Rules) ListVersions(ctx context.Context, tenant, id string, pageSize int, pageToken string) ([]rule.Rule, string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, "", err
	}
	if err := checkRuleID(id); err != nil {
		return nil, "", err
	}
	before := -1
	if pageToken != "" {
		v, err := decodePageToken(pageToken, "versions/"+id)
		if err != nil {
			return nil, "", err
		}
		if before, err = strconv.Atoi(v); err != nil {
			return nil, "", &ArgError{"page_token", "not a token of this list"}
		}
	}
	all, err := u.repo.Versions(ctx, tenant, id)
	if err != nil {
		return nil, "", err
	}
	size := pageSizeOf(pageSize, DefaultVersionPageSize, MaxVersionPageSize)
	var out []rule.Rule
	for _, r := range slices.Backward(all) {
		if before < 0 || r.Version < before {
			out = append(out, r)
		}
	}
	if len(out) <= size {
		return out, "", nil
	}
	out = out[:size:size]
	return out, encodePageToken("versions/"+id, strconv.Itoa(out[size-1].Version)), nil
}

// Enable stores a new version of the rule, enabled. Enabling an enabled
// rule returns it as it is, without a new version.
func (u *Rules) Enable(ctx context.Context, tenant, id, actor string) (rule.Rule, error) {
	return u.setEnabled(ctx, tenant, id, actor, true)
}

// Disable stores a new version of the rule, disabled, and cancels its
// pending timers: a wait started while it was enabled does not fire once
// it is disabled, nor after it is enabled again. Disabling a disabled rule
// returns it as it is, without a new version.
func (u *Rules) Disable(ctx context.Context, tenant, id, actor string) (rule.Rule, error) {
	r, err := u.setEnabled(ctx, tenant, id, actor, false)
	if err != nil {
		return rule.Rule{}, err
	}
	// Timer keys are "<rule>.<customer>.<correlation>" (see timerKey): the
	// rule's id and a dot cover every customer's waits.
	if err := u.timers.Cancel(ctx, tenant, r.ID+"."); err != nil {
		return rule.Rule{}, fmt.Errorf("rule %s disabled as version %d, but cancelling its timers failed: %w", r.ID, r.Version, err)
	}
	return r, nil
}

func (u *Rules) setEnabled(ctx context.Context, tenant, id, actor string, enabled bool) (rule.Rule, error) {
	if err := checkTenant(tenant); err != nil {
		return rule.Rule{}, err
	}
	if err := checkRuleID(id); err != nil {
		return rule.Rule{}, err
	}
	if err := checkActor(actor); err != nil {
		return rule.Rule{}, err
	}
	return u.change(ctx, tenant, id, 0, func(cur rule.Rule) (rule.Rule, bool) {
		if cur.Enabled == enabled {
			return cur, false
		}
		next := cur
		next.Enabled, next.UpdatedBy, next.UpdatedAt = enabled, actor, u.now().UTC()
		return next, true
	})
}

// change stores edit's result over the current version of rule id, unless
// edit reports no change (then the current version is returned). With
// expected 0 the write is conditional on the version read, and retried
// when another change landed in between; the repository's conflict error
// is told apart from others by the current version having moved on, so no
// particular error value is needed of it.
func (u *Rules) change(ctx context.Context, tenant, id string, expected int, edit func(cur rule.Rule) (rule.Rule, bool)) (rule.Rule, error) {
	for attempt := 1; ; attempt++ {
		cur, err := u.repo.Rule(ctx, tenant, id, 0)
		if err != nil {
			return rule.Rule{}, err
		}
		next, changed := edit(cur)
		if !changed {
			return cur, nil
		}
		base := expected
		if base == 0 {
			base = cur.Version
		}
		// A rule at version 0 was never stored: a pack rule as it ships,
		// whose first version of the tenant's own is a creation.
		stored, err := u.repo.Put(ctx, tenant, next, base, cur.Version == 0)
		if err == nil {
			return stored, nil
		}
		if expected != 0 || attempt == changeAttempts || ctx.Err() != nil {
			return rule.Rule{}, err
		}
		if now, rerr := u.repo.Rule(ctx, tenant, id, 0); rerr != nil || now.Version == cur.Version {
			return rule.Rule{}, err // not a concurrent change
		}
	}
}

// prepare writes out r's defaults, records the change, and validates.
func (u *Rules) prepare(r rule.Rule, actor string) (rule.Rule, error) {
	r = r.WithDefaults()
	r.Version = 0
	r.UpdatedBy, r.UpdatedAt = actor, u.now().UTC()
	if err := r.Validate().Err(); err != nil {
		return rule.Rule{}, err
	}
	return r, nil
}

func checkRuleID(id string) error {
	if id == "" {
		return &ArgError{"rule_id", "is required"}
	}
	if err := (rule.Rule{ID: id}).Validate(); len(err) > 0 && err[0].Field == "id" {
		return &ArgError{"rule_id", err[0].Reason}
	}
	return nil
}

func checkActor(actor string) error {
	if len(actor) > maxActorLen {
		return &ArgError{"actor", fmt.Sprintf("is longer than %d bytes", maxActorLen)}
	}
	return nil
}

// newRuleID generates the id of a rule created without one.
func newRuleID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "rule-" + hex.EncodeToString(b[:])
}

func pageSizeOf(n, def, limit int) int {
	if n <= 0 {
		return def
	}
	return min(n, limit)
}

// A page token is "<list>\x00<position>", base64url-encoded: the list it
// belongs to, so that a token of another list is refused, and the sort key
// of the last item of its page.
func encodePageToken(list, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + pos))
}

func decodePageToken(token, list string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	l, pos, ok := strings.Cut(string(raw), "\x00")
	if err != nil || !ok || l != list || pos == "" {
		return "", &ArgError{"page_token", "not a token of this list"}
	}
	return pos, nil
}
