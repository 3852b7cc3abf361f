package profile

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound means no profile matches.
var ErrNotFound = errors.New("profile not found")

// Changes are what one batch of applied events changes in storage. They are
// written together before the events are acknowledged; every part is
// idempotent, so writing them again after a crash is harmless.
type Changes struct {
	// Profiles to write, keyed by id.
	Profiles map[string]*Profile
	// Identities maps identity keys to the profile that now holds them.
	Identities map[string]string
	// Absorbed maps profile ids merged into another to the survivor; they
	// are deleted, and their ids lead to the survivor.
	Absorbed map[string]string
	// Joined and Left are segment memberships that started or ended.
	Joined, Left []Membership
}

// Membership is one profile in one segment.
type Membership struct {
	Tenant, ProfileID, Segment string
	Since                      time.Time
}

// Stored is a profile as a commit wrote it: Data is its stored form, so a
// cache can keep the very bytes the store holds without encoding the
// profile again.
type Stored struct {
	Profile *Profile
	Data    []byte
}

// Repository is the durable store of profiles.
type Repository interface {
	// Resolve returns the profile ids holding any of the identity keys.
	Resolve(ctx context.Context, tenant string, keys []string) (map[string]string, error)
	// Get returns one profile to change, or ErrNotFound. What Get returns
	// may be remembered by the repository: the caller either commits its
	// changes or calls Rollback.
	Get(ctx context.Context, tenant, id string) (*Profile, error)
	// Commit writes the changes of one tenant and returns the profiles as
	// written.
	Commit(ctx context.Context, tenant string, c Changes) ([]Stored, error)
	// RemoveAbsorbed deletes a profile merged into another whose deletion
	// a failed commit left undone (its id already leads to the survivor),
	// unless it was written since; it reports whether it deleted it.
	RemoveAbsorbed(ctx context.Context, tenant, id string) (bool, error)
	// MergedInto returns the profile a merged-away id leads to, or "".
	MergedInto(ctx context.Context, tenant, id string) (string, error)
	// Rollback forgets every uncommitted change made to profiles Get
	// returned; the next Get reads the store again.
	Rollback()
	// Cutoffs returns the tenant's top-spender cut-offs (nil when none).
	Cutoffs(ctx context.Context, tenant string) (Amounts, error)
	// SaveCutoffs stores them.
	SaveCutoffs(ctx context.Context, tenant string, c Amounts) error
}
