package adapters

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// SegmentPublisher announces segment transitions as segment.entered and
// segment.exited journey events.
type SegmentPublisher struct {
	pub      *journeystream.Publisher
	toDomain func(*journeyv1.JourneyEvent, uint64) profile.Event
}

// NewSegmentPublisher publishes through pub; toDomain is how the fold reads
// a journey event (ports.ToDomain), so an announcement is recorded exactly
// as its copy from the stream would be.
func NewSegmentPublisher(pub *journeystream.Publisher, toDomain func(*journeyv1.JourneyEvent, uint64) profile.Event) *SegmentPublisher {
	return &SegmentPublisher{pub: pub, toDomain: toDomain}
}

var _ app.SegmentPublisher = (*SegmentPublisher)(nil)

// SegmentEventID is the event id of a transition: the same transition,
// however often it is computed (a retry, a replay), is one event.
func SegmentEventID(e app.SegmentEvent) string {
	dir := "exited"
	if e.Change.Entered {
		dir = "entered"
	}
	return fmt.Sprintf("segment:%s:%s:%s:%d", e.ProfileID, e.Change.Segment, dir, e.Change.At.UnixNano())
}

// JourneyEvent is the journey event announcing e.
func JourneyEvent(e app.SegmentEvent) *journeyv1.JourneyEvent {
	ev := &journeyv1.JourneyEvent{
		Id:         SegmentEventID(e),
		Tenant:     e.Tenant,
		Customer:   customerOf(e.Customer),
		OccurredAt: timestamppb.New(e.Change.At),
		Source:     "profile",
		Properties: nil,
	}
	if e.Change.Entered {
		ev.Type = "segment.entered"
		ev.Payload = &journeyv1.JourneyEvent_SegmentEntered{SegmentEntered: &journeyv1.SegmentEntered{Segment: e.Change.Segment}}
	} else {
		ev.Type = "segment.exited"
		ev.Payload = &journeyv1.JourneyEvent_SegmentExited{SegmentExited: &journeyv1.SegmentExited{Segment: e.Change.Segment}}
	}
	return ev
}

// customerOf names a profile by the first identity of each kind.
func customerOf(ids []profile.Identity) *journeyv1.Customer {
	f := profile.FirstOfEach(ids)
	return &journeyv1.Customer{CustomerId: f[profile.CustomerID], Email: f[profile.Email], Phone: f[profile.Phone], AnonymousId: f[profile.AnonymousID]}
}

// PublishSegments stores every announcement or fails. It returns them as
// the fold reads them back from the stream, with the sequence each was
// stored at (the first copy's, for one stored before).
func (p *SegmentPublisher) PublishSegments(ctx context.Context, events []app.SegmentEvent) ([]profile.Event, error) {
	evs := make([]*journeyv1.JourneyEvent, len(events))
	for i, e := range events {
		evs[i] = JourneyEvent(e)
	}
	var errs []error
	stored := make([]profile.Event, len(evs))
	for i, a := range p.pub.Publish(ctx, evs) {
		if a.Err != nil {
			errs = append(errs, a.Err)
			continue
		}
		stored[i] = p.toDomain(evs[i], a.Seq)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return stored, nil
}
