package ports

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// EventLoader reads journey events back from the stream by sequence, for
// the timeline.
type EventLoader interface {
	Events(ctx context.Context, tenant string, refs []profile.EventRef) ([]*journeyv1.JourneyEvent, error)
}

// GRPC serves cx.profile.v1.ProfileService.
type GRPC struct {
	profilev1.UnimplementedProfileServiceServer
	q      *app.Queries
	events EventLoader
}

// NewGRPC checks its dependencies.
func NewGRPC(q *app.Queries, events EventLoader) (*GRPC, error) {
	if q == nil || events == nil {
		return nil, errors.New("ports: queries and event loader are required")
	}
	return &GRPC{q: q, events: events}, nil
}

// statusOf maps the app's errors to status codes: a caller's mistake is
// INVALID_ARGUMENT naming the field, a missing customer or tenant NOT_FOUND.
func statusOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, app.ErrInvalid):
		return status.Error(codes.InvalidArgument, strings.TrimPrefix(err.Error(), app.ErrInvalid.Error()+": "))
	case errors.Is(err, app.ErrUnknownTenant):
		return status.Error(codes.NotFound, "tenant: "+strings.TrimPrefix(err.Error(), app.ErrUnknownTenant.Error()+": ")+" has no profiles")
	case errors.Is(err, profile.ErrNotFound):
		return status.Error(codes.NotFound, "customer: no profile matches")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	if st, ok := status.FromError(err); ok {
		return st.Err() // already an answer
	}
	return status.Error(codes.Unavailable, "profile store unavailable; retry")
}

func refOf(r *profilev1.CustomerRef) app.Ref {
	if id := r.GetProfileId(); id != "" {
		return app.Ref{ProfileID: id}
	}
	if ids := identitiesOf(r.GetIdentity()); len(ids) > 0 {
		return app.Ref{Identity: ids[0]}
	}
	return app.Ref{}
}

// GetProfile returns one profile, its stage and segments computed now.
func (g *GRPC) GetProfile(ctx context.Context, req *profilev1.GetProfileRequest) (*profilev1.GetProfileResponse, error) {
	if len(req.GetAfterEventId()) > journey.MaxIDLength {
		return nil, status.Errorf(codes.InvalidArgument, "after_event_id: longer than %d characters", journey.MaxIDLength)
	}
	p, err := g.q.Profile(ctx, req.GetTenant(), refOf(req.GetCustomer()))
	if after := req.GetAfterEventId(); after != "" {
		p, err = g.awaitEvent(ctx, req, after, p, err)
	}
	if err != nil {
		return nil, statusOf(err)
	}
	rules, err := g.q.RulesFor(ctx, req.GetTenant())
	if err != nil {
		return nil, statusOf(err)
	}
	return &profilev1.GetProfileResponse{Profile: ProfileToProto(p, g.q.Now(), rules)}, nil
}

// AfterEventWait bounds how long GetProfile waits for the fold to reach the
// event a caller names (after_event_id); the fold takes milliseconds, so
// running out means it is behind, and the caller is told to retry.
const AfterEventWait = 2 * time.Second

// awaitEvent reads the profile again until it includes event id, while the
// profile (or the tenant) is not there yet or does not have it.
func (g *GRPC) awaitEvent(ctx context.Context, req *profilev1.GetProfileRequest, id string, p *profile.Profile, err error) (*profile.Profile, error) {
	deadline := time.Now().Add(AfterEventWait)
	wait := time.Millisecond
	for {
		pending := errors.Is(err, profile.ErrNotFound) || errors.Is(err, app.ErrUnknownTenant) || err == nil && !p.HasApplied(id)
		if !pending {
			return p, err
		}
		if time.Now().After(deadline) {
			return nil, status.Errorf(codes.Unavailable, "after_event_id: the profile does not include event %q yet; retry", id)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
		p, err = g.q.Profile(ctx, req.GetTenant(), refOf(req.GetCustomer()))
	}
}

// GetTimeline returns a page of the customer's journey events.
func (g *GRPC) GetTimeline(ctx context.Context, req *profilev1.GetTimelineRequest) (*profilev1.GetTimelineResponse, error) {
	f := app.TimelineFilter{Types: req.GetTypes()}
	if req.GetStartTime() != nil {
		f.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		f.End = req.GetEndTime().AsTime()
	}
	refs, next, err := g.q.Timeline(ctx, req.GetTenant(), refOf(req.GetCustomer()), f, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err)
	}
	evs, err := g.events.Events(ctx, req.GetTenant(), refs)
	if err != nil {
		return nil, statusOf(err)
	}
	return &profilev1.GetTimelineResponse{Events: evs, NextPageToken: next}, nil
}

// ListSegmentMembers returns a page of a segment's members.
func (g *GRPC) ListSegmentMembers(ctx context.Context, req *profilev1.ListSegmentMembersRequest) (*profilev1.ListSegmentMembersResponse, error) {
	ms, next, err := g.q.SegmentMembers(ctx, req.GetTenant(), req.GetSegment(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &profilev1.ListSegmentMembersResponse{NextPageToken: next}
	for _, m := range ms {
		resp.Members = append(resp.Members, &profilev1.SegmentMember{ProfileId: m.Profile.ID, Customer: primaryCustomer(m.Profile.Identities), EnteredAt: ts(m.Since)})
	}
	return resp, nil
}

// ListMerges returns a page of the merges behind a profile.
func (g *GRPC) ListMerges(ctx context.Context, req *profilev1.ListMergesRequest) (*profilev1.ListMergesResponse, error) {
	ms, next, err := g.q.Merges(ctx, req.GetTenant(), refOf(req.GetCustomer()), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, statusOf(err)
	}
	p, err := g.q.Profile(ctx, req.GetTenant(), refOf(req.GetCustomer()))
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &profilev1.ListMergesResponse{NextPageToken: next}
	for _, m := range ms {
		reason := profilev1.MergeReason_MERGE_REASON_SHARED_IDENTITY
		if m.Reason == profile.ReasonIdentified {
			reason = profilev1.MergeReason_MERGE_REASON_IDENTIFIED
		}
		resp.Merges = append(resp.Merges, &profilev1.Merge{
			SurvivingProfileId: p.ID, MergedProfileId: m.Merged, SharedIdentity: primaryCustomer([]profile.Identity{m.Shared}),
			Reason: reason, CauseEventId: m.CauseID, MergedAt: ts(m.MergedAt),
		})
	}
	return resp, nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
