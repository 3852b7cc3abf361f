// Package app holds the ingest service's use case: take a shop's events,
// validate them, and store them in the journey stream exactly once.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// MaxBatch is the most events one call may carry.
const MaxBatch = 1000

// MaxEncodedEvent is the largest event JetStream stores (its 1 MiB message
// limit, less room for headers). A larger one is refused as invalid, not
// answered "unavailable": sending it again would never help.
const MaxEncodedEvent = 1<<20 - 4096

// ErrUnavailable means the journey stream did not acknowledge in time; the
// event was not (or not knowingly) stored and is safe to send again.
var ErrUnavailable = errors.New("event store unavailable")

// RateLimitedError means the tenant sent more than its rate allows; nothing
// of the call was stored.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limit exceeded; retry after %s", e.RetryAfter)
}

// Publisher stores events in the journey stream, in order, and reports for
// each whether it was new or a duplicate, or the error that kept it out.
type Publisher interface {
	Publish(ctx context.Context, events []*journeyv1.JourneyEvent) []Stored
}

// Stored is the publisher's answer for one event.
type Stored struct {
	Duplicate bool
	// Err wraps ErrUnavailable when the broker did not acknowledge.
	Err error
}

// Limiter admits n events of a tenant or says how long to wait.
type Limiter interface {
	Allow(ctx context.Context, t *tenant.Tenant, n int) (ok bool, retryAfter time.Duration)
}

// Outcome is what happened to one event.
type Outcome int

// Outcomes, named as in the API.
const (
	Accepted Outcome = iota + 1
	Duplicate
	Rejected
	Unavailable
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Rejected:
		return "rejected"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Input is one event as a port decoded it, or the errors decoding found.
type Input struct {
	Event  *journeyv1.JourneyEvent
	Errors journey.Errors
}

// PublishEvents is the command: a tenant's events from one source.
type PublishEvents struct {
	Tenant *tenant.Tenant
	// Source is "api", "shopify" or "woocommerce".
	Source string
	Events []Input
}

// Result is the outcome of one event, in the order sent.
type Result struct {
	Index   int
	ID      string
	Outcome Outcome
	Errors  journey.Errors
}

// PublishEventsHandler handles PublishEvents.
type PublishEventsHandler struct {
	publisher Publisher
	limiter   Limiter
	now       func() time.Time
	maxFuture time.Duration
}

// NewPublishEventsHandler checks its dependencies. maxFuture is the clock
// skew allowed on occurred_at.
func NewPublishEventsHandler(p Publisher, l Limiter, now func() time.Time, maxFuture time.Duration) (*PublishEventsHandler, error) {
	if p == nil || l == nil || now == nil {
		return nil, errors.New("app: publisher, limiter and clock are required")
	}
	return &PublishEventsHandler{publisher: p, limiter: l, now: now, maxFuture: maxFuture}, nil
}

// Handle validates every event, stamps the valid ones with tenant, source
// and receive time, and stores them. An invalid event is rejected alone;
// the rest go on. Over the rate limit, nothing is stored.
func (h *PublishEventsHandler) Handle(ctx context.Context, cmd PublishEvents) ([]Result, error) {
	if ok, wait := h.limiter.Allow(ctx, cmd.Tenant, len(cmd.Events)); !ok {
		return nil, &RateLimitedError{RetryAfter: wait}
	}
	now := h.now()
	rules := journey.Rules{Tenant: cmd.Tenant.ID, Now: now, MaxFuture: h.maxFuture}
	results := make([]Result, len(cmd.Events))
	valid := make([]*journeyv1.JourneyEvent, 0, len(cmd.Events))
	at := make([]int, 0, len(cmd.Events))
	received := timestamppb.New(now)
	for i, in := range cmd.Events {
		results[i] = Result{Index: i, ID: in.Event.GetId()}
		errs := in.Errors
		if errs == nil {
			if c := in.Event.GetCustomer(); c.GetPhone() != "" {
				c.Phone = journey.NormalizePhone(c.GetPhone(), cmd.Tenant.PhoneCountryCode)
			}
			errs = journey.Validate(in.Event, rules)
		}
		if errs == nil {
			if n := proto.Size(in.Event); n > MaxEncodedEvent {
				errs = journey.Errors{{Reason: fmt.Sprintf("the event is %d bytes encoded; at most %d", n, MaxEncodedEvent)}}
			}
		}
		if errs != nil {
			results[i].Outcome, results[i].Errors = Rejected, errs
			continue
		}
		ev := in.Event
		ev.Tenant, ev.Source, ev.ReceivedAt = cmd.Tenant.ID, cmd.Source, received
		if ev.OccurredAt == nil {
			ev.OccurredAt = received
		}
		valid = append(valid, ev)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return results, nil
	}
	for j, s := range h.publisher.Publish(ctx, valid) {
		r := &results[at[j]]
		switch {
		case s.Err != nil:
			r.Outcome = Unavailable
		case s.Duplicate:
			r.Outcome = Duplicate
		default:
			r.Outcome = Accepted
		}
	}
	return results, nil
}
