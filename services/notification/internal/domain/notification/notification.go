// Package notification holds the rules of one message to one customer: which
// channel it may use, when it may go out, how often, and the record of what
// became of it. It is pure: no transport, no storage.
package notification

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Channel is a way of reaching a customer.
type Channel string

// The channels Bazgasht sends on.
const (
	Email   Channel = "email"
	SMS     Channel = "sms"
	Push    Channel = "push"
	Webhook Channel = "webhook"
)

// Channels lists every channel in the order fallback tries them when the
// customer's preference does not decide.
var Channels = []Channel{Email, SMS, Push, Webhook}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// Category decides which protections apply to a message.
type Category string

// The categories.
const (
	// Marketing needs consent, is held in quiet hours and counts against caps.
	Marketing Category = "marketing"
	// Transactional may go out in quiet hours and is exempt from caps.
	Transactional Category = "transactional"
	// Service (a ticket's survey) needs no marketing consent and is exempt
	// from caps, but is held in quiet hours like marketing.
	Service Category = "service"
)

// Status is where a notification is in its life.
type Status string

// The statuses. Sent, Delivered, Failed and Suppressed are final: nothing is
// sent for a notification in one of them, ever again.
const (
	Queued     Status = "queued"
	Held       Status = "held"
	Sending    Status = "sending"
	Sent       Status = "sent"
	Delivered  Status = "delivered"
	Failed     Status = "failed"
	Suppressed Status = "suppressed"
)

// Final reports whether s ends the notification's sending.
func (s Status) Final() bool {
	return s == Sent || s == Delivered || s == Failed || s == Suppressed
}

// Outcome is how one provider call went.
type Outcome string

// The outcomes.
const (
	Pending   Outcome = ""
	Accepted  Outcome = "accepted"
	Transient Outcome = "transient_error"
	Permanent Outcome = "permanent_error"
)

// Reasons a notification is suppressed, the words its journey event and
// status carry.
const (
	ReasonNoConsent    = "no_consent"
	ReasonUnsubscribed = "unsubscribed"
	ReasonNoContact    = "no_contact"
	ReasonNoContent    = "no_template_content"
	ReasonFrequencyCap = "frequency_cap"
)

// Customer names the recipient by the identities the caller gave.
type Customer struct {
	CustomerID  string `json:"customer_id,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	AnonymousID string `json:"anonymous_id,omitempty"`
}

// Empty reports whether no identity is set.
func (c Customer) Empty() bool {
	return c.CustomerID == "" && c.Email == "" && c.Phone == "" && c.AnonymousID == ""
}

// Request is one notification asked for, by the work queue or gRPC.
type Request struct {
	Tenant          string            `json:"tenant"`
	ID              string            `json:"id"`
	Customer        Customer          `json:"customer"`
	TemplateID      string            `json:"template_id"`
	TemplateVersion int               `json:"template_version,omitempty"`
	Channel         Channel           `json:"channel,omitempty"`
	Category        Category          `json:"category,omitempty"`
	DisableFallback bool              `json:"disable_fallback,omitempty"`
	Event           map[string]any    `json:"event,omitempty"`
	Vars            map[string]string `json:"vars,omitempty"`
	CauseEventID    string            `json:"cause_event_id,omitempty"`
}

// ErrInvalid marks a request that can never be sent as it is.
var ErrInvalid = errors.New("invalid request")

// FieldError names the field that is wrong and why.
type FieldError struct {
	Field, Problem string
}

// Error names the field first, as API errors do.
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks what the request must carry.
func (r *Request) Validate() error {
	switch {
	case r.Tenant == "":
		return &FieldError{"tenant", "is required"}
	case r.ID == "":
		return &FieldError{"notification_id", "is required"}
	case len(r.ID) > 128 || strings.IndexFunc(r.ID, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0:
		return &FieldError{"notification_id", "must be at most 128 visible ASCII characters"}
	case r.Customer.Empty():
		return &FieldError{"customer", "needs at least one identity"}
	case r.TemplateID == "":
		return &FieldError{"template_id", "is required"}
	case r.TemplateVersion < 0:
		return &FieldError{"template_version", "must not be negative"}
	case r.Channel != "" && !r.Channel.Valid():
		return &FieldError{"channel", fmt.Sprintf("%q is not a channel", r.Channel)}
	}
	return nil
}

// Attempt is one call to a provider.
type Attempt struct {
	Channel           Channel   `json:"channel"`
	Provider          string    `json:"provider"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
	Outcome           Outcome   `json:"outcome,omitempty"`
	Detail            string    `json:"detail,omitempty"`
	At                time.Time `json:"at"`
	// Key is the idempotency key the provider was given.
	Key string `json:"key,omitempty"`
}

// Notification is the ledger record of one notification: the request and
// everything that happened to it.
type Notification struct {
	Request         Request   `json:"request"`
	Category        Category  `json:"category"`
	TemplateVersion int       `json:"template_version,omitempty"`
	Channel         Channel   `json:"channel,omitempty"`
	Status          Status    `json:"status"`
	Reason          string    `json:"reason,omitempty"`
	Attempts        []Attempt `json:"attempts,omitempty"`
	// Retries counts transient failures on the current channel.
	Retries int `json:"retries,omitempty"`
	// Skipped lists channels fallback left behind, with why, such as
	// "fell back from sms: invalid number".
	Skipped []string `json:"skipped,omitempty"`
	// LeaseUntil is when a sending attempt is presumed dead: until then
	// another worker leaves it alone.
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	SentAt      time.Time `json:"sent_at,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
	// CapKey is the customer key the frequency cap counted this message
	// under, so that it can be released if nothing was sent.
	CapKey string `json:"cap_key,omitempty"`
}

// LastAttempt is the latest attempt, or nil.
func (n *Notification) LastAttempt() *Attempt {
	if len(n.Attempts) == 0 {
		return nil
	}
	return &n.Attempts[len(n.Attempts)-1]
}
