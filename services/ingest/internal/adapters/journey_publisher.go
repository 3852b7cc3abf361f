// Package adapters holds what the ingest service talks out to: the journey
// stream in JetStream, the tenants file, the rate limiter.
package adapters

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
)

// JourneyPublisher stores a shop's events in the JOURNEY stream.
type JourneyPublisher struct{ pub *journeystream.Publisher }

// NewJourneyPublisher returns a publisher over nc; timeout bounds waiting
// for JetStream's acknowledgement, past which the answer is "unavailable".
func NewJourneyPublisher(nc *nats.Conn, timeout time.Duration) (*JourneyPublisher, error) {
	pub, err := journeystream.NewPublisher(nc, timeout)
	if err != nil {
		return nil, err
	}
	return &JourneyPublisher{pub: pub}, nil
}

var _ app.Publisher = (*JourneyPublisher)(nil)

// Publish stores events with Nats-Msg-Id <tenant>:<id>, so JetStream keeps
// one copy of a retried event within its duplicate window.
func (p *JourneyPublisher) Publish(ctx context.Context, events []*journeyv1.JourneyEvent) []app.Stored {
	acks := p.pub.Publish(ctx, events)
	out := make([]app.Stored, len(acks))
	for i, a := range acks {
		out[i] = app.Stored{Duplicate: a.Duplicate, Err: a.Err}
		if errors.Is(a.Err, journeystream.ErrUnavailable) {
			out[i].Err = errors.Join(app.ErrUnavailable, a.Err)
		}
	}
	return out
}
