// Package app holds the survey service's use cases: managing definitions,
// inviting customers, recording answers from the response page and
// reporting KPIs. The stores, the profile service and the outgoing
// messages are interfaces declared here and implemented in adapters.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Errors the ports map to status codes.
var (
	// ErrNotFound: no such survey, version or invitation in the tenant.
	ErrNotFound = errors.New("not found")
	// ErrExists: a create found the key taken.
	ErrExists = errors.New("already exists")
	// ErrConflict: the stored record changed since it was read.
	ErrConflict = errors.New("changed concurrently")
	// ErrArchived: the survey takes no new invitations.
	ErrArchived = errors.New("survey is archived")
	// ErrStaleVersion: UpdateSurvey's expected_version is not current.
	ErrStaleVersion = errors.New("expected_version is not the current version")
)

// DefinitionStore keeps every version of tenants' own definitions.
type DefinitionStore interface {
	// Current returns the current version and a revision for Save.
	Current(ctx context.Context, tenant, id string) (survey.Definition, uint64, error)
	// Version returns one stored version.
	Version(ctx context.Context, tenant, id string, version int) (survey.Definition, error)
	// Save stores d as its version and as the current one: rev 0 creates
	// (ErrExists when taken), else it must be Current's revision
	// (ErrConflict).
	Save(ctx context.Context, tenant string, d survey.Definition, rev uint64) error
	// List returns the current version of every stored definition.
	List(ctx context.Context, tenant string) ([]survey.Definition, error)
}

// InvitationStore keeps invitations with their answers.
type InvitationStore interface {
	// Get returns an invitation and its revision; ErrNotFound when absent.
	Get(ctx context.Context, tenant, id string) (invitation.Invitation, uint64, error)
	// Create stores a new invitation; ErrExists when one has the id.
	Create(ctx context.Context, inv invitation.Invitation) (uint64, error)
	// Update replaces the invitation stored at rev; ErrConflict otherwise.
	Update(ctx context.Context, inv invitation.Invitation, rev uint64) (uint64, error)
}

// FatigueClaim is who last took a customer's fatigue period, and when.
type FatigueClaim struct {
	At           time.Time `json:"at"`
	InvitationID string    `json:"invitation_id"`
}

// FatigueStore keeps when each customer was last invited.
type FatigueStore interface {
	// Get returns the claim and its revision, the zero claim and 0 when
	// the customer was never invited.
	Get(ctx context.Context, tenant, customerKey string) (FatigueClaim, uint64, error)
	// Put stores c at rev (0: create); ErrConflict when another
	// invitation claimed the customer meanwhile.
	Put(ctx context.Context, tenant, customerKey string, c FatigueClaim, rev uint64) error
	// Release removes the claim if it is still at rev.
	Release(ctx context.Context, tenant, customerKey string, rev uint64) error
}

// Profile is what the survey service reads of a customer's profile.
type Profile struct {
	ID               string
	Locale           string
	Segments         []string
	PreferredChannel invitation.Channel
	HasEmail         bool
	HasPhone         bool
}

// Profiles reads customers' profiles from the profile service.
type Profiles interface {
	// Lookup returns the profile, or found false when the customer is not
	// known yet.
	//
	// afterEventID, when set, names the event behind the request (the
	// rule's cause): the profile is read once it includes it, so a
	// customer who signed up a moment before is known with their channel
	// and locale; if it does not within a short wait (an event the profile
	// never folds, such as a catalog fan-out), the profile as it is.
	Lookup(ctx context.Context, tenant string, c invitation.Customer, afterEventID string) (p Profile, found bool, err error)
}

// Outbox sends what the service tells others. Every call is idempotent
// under ids derived from the invitation, so a retry after a failure sends
// nothing twice.
type Outbox interface {
	// SendInvitation asks the notification service to send the invitation
	// with the template and variables.
	SendInvitation(ctx context.Context, inv invitation.Invitation, template string, vars map[string]string) error
	// Invited publishes survey.invited.
	Invited(ctx context.Context, inv invitation.Invitation) error
	// Responded publishes survey.responded for the answer's current
	// revision.
	Responded(ctx context.Context, inv invitation.Invitation) error
}
