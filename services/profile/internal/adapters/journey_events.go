package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/topology"
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

// Events returns the events at seqs, in that order; an event the stream no
// longer holds (an operator limited its age) is left out.
func (j *JourneyEvents) Events(ctx context.Context, seqs []uint64) ([]*journeyv1.JourneyEvent, error) {
	out := make([]*journeyv1.JourneyEvent, 0, len(seqs))
	for _, seq := range seqs {
		m, err := j.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journey stream: read %d: %w", seq, err)
		}
		ev := &journeyv1.JourneyEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			return nil, fmt.Errorf("journey stream: event %d: %w", seq, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
