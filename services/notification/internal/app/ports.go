// Package app holds the notification service's use cases: dispatching a
// notification exactly once, managing templates, reading status, and
// recording unsubscribes and delivery reports.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// Errors the stores return, compared with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("changed concurrently")
)

// Ledger is the send ledger: one record per (tenant, notification id),
// written with compare-and-set so that two workers never both send.
type Ledger interface {
	// Get returns the record and its revision, or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (*notification.Notification, uint64, error)
	// Create stores a new record, or returns ErrExists.
	Create(ctx context.Context, n *notification.Notification) (uint64, error)
	// Update replaces the record at revision rev, or returns ErrConflict.
	Update(ctx context.Context, n *notification.Notification, rev uint64) (uint64, error)
	// IndexProviderMessage remembers which notification a provider's message
	// id belongs to, for delivery reports.
	IndexProviderMessage(ctx context.Context, provider, messageID, tenant, id string) error
	// ProviderMessage finds the notification of a provider's message id.
	ProviderMessage(ctx context.Context, provider, messageID string) (tenant, id string, err error)
}

// TemplateStore keeps tenants' templates, every version.
type TemplateStore interface {
	// Get returns a tenant's own template at version (current when 0), or
	// ErrNotFound.
	Get(ctx context.Context, tenant, id string, version int) (*template.Template, error)
	// Put stores t as version t.Version; the current version must be
	// expected (0: none yet), else ErrConflict (ErrExists on create).
	Put(ctx context.Context, tenant string, t *template.Template, expected int) error
	// List returns the current version of every template of the tenant.
	List(ctx context.Context, tenant string) ([]*template.Template, error)
}

// ProfileReader reads a customer's profile; a customer the profile service
// does not know is a Profile with Found false, not an error.
type ProfileReader interface {
	Profile(ctx context.Context, tenant string, c notification.Customer) (*notification.Profile, error)
}

// Unsubscribes records which customers left which channel.
type Unsubscribes interface {
	Unsubscribed(tenant, customerKey string, ch notification.Channel) bool
	Unsubscribe(ctx context.Context, tenant, customerKey string, ch notification.Channel, at time.Time) error
}

// CapStore keeps each customer's marketing messages for the frequency cap.
type CapStore interface {
	// Reserve counts the message against the customer's cap, or returns
	// false when the cap is reached.
	Reserve(ctx context.Context, tenant, customerKey, id string, c notification.FrequencyCap, now time.Time) (bool, error)
	// Release forgets a message that was not sent after all.
	Release(ctx context.Context, tenant, customerKey, id string) error
}

// Message is a rendered notification addressed to one customer on one
// channel.
type Message struct {
	Tenant         string
	NotificationID string
	// IdempotencyKey is the same for every call about this notification on
	// this channel, so a provider that deduplicates never sends it twice.
	IdempotencyKey string
	Channel        notification.Channel
	To             string
	Customer       notification.Customer
	Content        template.Rendered
	UnsubscribeURL string
}

// Receipt is a provider's acceptance.
type Receipt struct {
	MessageID string
	Detail    string
}

// ProviderError is a provider's refusal; Permanent when trying again on the
// same channel cannot help (bounced address, invalid number).
type ProviderError struct {
	Permanent bool
	// Unknown: the call broke after the message may have been taken (an
	// SMTP connection lost after the message was written, before the
	// server's answer). Trying again, or on another channel, could send it
	// twice, so the notification fails saying the outcome is unknown.
	Unknown bool
	Detail  string
}

// Error is the provider's answer.
func (e *ProviderError) Error() string { return e.Detail }

// Provider hands messages to one outside service.
type Provider interface {
	// Name is the provider's name in attempts and events.
	Name() string
	// Idempotent reports whether the provider deduplicates by the
	// message's IdempotencyKey, so that a call of unknown outcome may be
	// repeated safely.
	Idempotent() bool
	// ReportsDelivery reports whether the provider calls back with
	// delivery reports, so that its message ids are worth indexing.
	ReportsDelivery() bool
	// Send delivers msg or returns an error; one that is not a
	// *ProviderError is transient (a timeout, a refused connection).
	Send(ctx context.Context, msg Message) (Receipt, error)
}

// Outcome is a journey event about a notification.
type Outcome struct {
	Notification *notification.Notification
	// Type is sent, delivered, failed or suppressed.
	Type      notification.Status
	Channel   notification.Channel
	Provider  string
	MessageID string
	// Detail is the provider's answer.
	Detail string
	// Reason says why: the failure or suppression, or for a message sent
	// after a fallback, which channels were left behind.
	Reason    string
	Permanent bool
	At        time.Time
}

// Events publishes outcomes as journey events with idempotent ids.
type Events interface {
	Publish(ctx context.Context, outcomes ...Outcome) error
}

// Links signs unsubscribe links.
type Links interface {
	UnsubscribeURL(tenant, customerKey, addressKey string, ch notification.Channel, id string) string
}

// Queue puts a request on the notification work queue.
type Queue interface {
	// Enqueue stores the request on the work queue; duplicate reports that
	// a request with its id was already there.
	Enqueue(ctx context.Context, r *notification.Request) (duplicate bool, err error)
}
