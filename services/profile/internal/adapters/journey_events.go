package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// JourneyEvents reads journey events back from the JOURNEY stream by
// sequence: the timeline keeps only references, the stream keeps the events.
type JourneyEvents struct{ stream jetstream.Stream }

// NewJourneyEvents opens the JOURNEY stream.
func NewJourneyEvents(ctx context.Context, js jetstream.JetStream) (*JourneyEvents, error) {
	s, err := js.Stream(ctx, topology.Journey)
	if err != nil {
		return nil, fmt.Errorf("journey stream: %w", err)
	}
	return &JourneyEvents{stream: s}, nil
}

// Events returns tenant's events refs point at, in that order. An event
// the stream no longer holds (an operator limited its age), or a position
// that now holds another event (the stream was recreated since the
// reference was taken), is left out: a timeline never shows another
// customer's event.
func (j *JourneyEvents) Events(ctx context.Context, tenant string, refs []profile.EventRef) ([]*journeyv1.JourneyEvent, error) {
	out := make([]*journeyv1.JourneyEvent, 0, len(refs))
	for _, r := range refs {
		ev, err := j.event(ctx, r.Seq)
		if err != nil {
			return nil, err
		}
		if ev != nil && ev.GetId() == r.ID && ev.GetTenant() == tenant {
			out = append(out, ev)
		}
	}
	return out, nil
}

// event reads the event at seq, or nil when the stream no longer holds it.
func (j *JourneyEvents) event(ctx context.Context, seq uint64) (*journeyv1.JourneyEvent, error) {
	m, err := j.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journey stream: read %d: %w", seq, err)
	}
	ev := &journeyv1.JourneyEvent{}
	if err := proto.Unmarshal(m.Data, ev); err != nil {
		return nil, fmt.Errorf("journey stream: event %d: %w", seq, err)
	}
	return ev, nil
}

// EventSource reads events back in the fold's terms.
type EventSource struct {
	events   *JourneyEvents
	toDomain func(*journeyv1.JourneyEvent, uint64) profile.Event
}

// NewEventSource reads from events; toDomain is how the fold reads a
// journey event (ports.ToDomain).
func NewEventSource(events *JourneyEvents, toDomain func(*journeyv1.JourneyEvent, uint64) profile.Event) *EventSource {
	return &EventSource{events: events, toDomain: toDomain}
}

var _ app.EventSource = (*EventSource)(nil)

// EventsAt returns tenant's events at seqs that the stream still holds.
func (s *EventSource) EventsAt(ctx context.Context, tenant string, seqs []uint64) (map[uint64]profile.Event, error) {
	out := make(map[uint64]profile.Event, len(seqs))
	for _, seq := range seqs {
		ev, err := s.events.event(ctx, seq)
		if err != nil {
			return nil, err
		}
		if ev != nil && ev.GetTenant() == tenant {
			out[seq] = s.toDomain(ev, seq)
		}
	}
	return out, nil
}
