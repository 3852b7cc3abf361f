package ports

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	ingestv1 "github.com/bazgasht/bazgasht/gen/cx/ingest/v1"
	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// GRPC serves cx.ingest.v1.IngestService.
type GRPC struct {
	ingestv1.UnimplementedIngestServiceServer
	app        Publisher
	tenants    *tenant.Directory
	retryAfter time.Duration
	metrics    *Metrics
}

// NewGRPC checks its dependencies.
func NewGRPC(p Publisher, tenants *tenant.Directory, retryAfter time.Duration, m *Metrics) (*GRPC, error) {
	if p == nil || tenants == nil || m == nil {
		return nil, errors.New("ports: publisher, tenants and metrics are required")
	}
	return &GRPC{app: p, tenants: tenants, retryAfter: retryAfter, metrics: m}, nil
}

func (g *GRPC) authenticate(ctx context.Context) (*tenant.Tenant, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if key, ok := strings.CutPrefix(v, "Bearer "); ok {
			if t, err := g.tenants.Authenticate(strings.TrimSpace(key)); err == nil {
				return t, nil
			}
		}
	}
	g.metrics.Rejections.WithLabelValues("unauthenticated").Inc()
	return nil, status.Error(codes.Unauthenticated, "send the tenant's API key as metadata authorization: Bearer <key>")
}

func (g *GRPC) publish(ctx context.Context, t *tenant.Tenant, events []*journeyv1.JourneyEvent) ([]app.Result, error) {
	inputs := make([]app.Input, len(events))
	for i, ev := range events {
		if ev == nil {
			ev = &journeyv1.JourneyEvent{}
		}
		// The caller's message must not be changed under it.
		inputs[i].Event = proto.CloneOf(ev)
	}
	results, err := g.app.Handle(ctx, app.PublishEvents{Tenant: t, Source: "api", Events: inputs})
	var limited *app.RateLimitedError
	if errors.As(err, &limited) {
		g.metrics.Rejections.WithLabelValues("rate_limited").Inc()
		return nil, withRetry(codes.ResourceExhausted, limited.Error(), limited.RetryAfter)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, "the events could not be processed")
	}
	for _, r := range results {
		g.metrics.Events.WithLabelValues("api", r.Outcome.String()).Inc()
	}
	return results, nil
}

func withRetry(c codes.Code, msg string, d time.Duration) error {
	st, err := status.New(c, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	if err != nil {
		return status.Error(c, msg)
	}
	return st.Err()
}

func toProto(r app.Result) *ingestv1.EventResult {
	out := &ingestv1.EventResult{Index: int32(r.Index), Id: r.ID}
	switch r.Outcome {
	case app.Accepted:
		out.Outcome = ingestv1.Outcome_OUTCOME_ACCEPTED
	case app.Duplicate:
		out.Outcome = ingestv1.Outcome_OUTCOME_DUPLICATE
	case app.Rejected:
		out.Outcome = ingestv1.Outcome_OUTCOME_REJECTED
	default:
		out.Outcome = ingestv1.Outcome_OUTCOME_UNAVAILABLE
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, &ingestv1.FieldError{Field: e.Field, Reason: e.Reason})
	}
	return out
}

// PublishEvent stores one event: INVALID_ARGUMENT with a BadRequest detail
// naming each field at fault, UNAVAILABLE with RetryInfo when the broker
// did not acknowledge.
func (g *GRPC) PublishEvent(ctx context.Context, req *ingestv1.PublishEventRequest) (*ingestv1.PublishEventResponse, error) {
	t, err := g.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	results, err := g.publish(ctx, t, []*journeyv1.JourneyEvent{req.GetEvent()})
	if err != nil {
		return nil, err
	}
	r := results[0]
	switch r.Outcome {
	case app.Rejected:
		return nil, invalid(r.Errors)
	case app.Unavailable:
		return nil, withRetry(codes.Unavailable, "the event store did not acknowledge in time; send the event again", g.retryAfter)
	}
	return &ingestv1.PublishEventResponse{Result: toProto(r)}, nil
}

func invalid(errs journey.Errors) error {
	br := &errdetails.BadRequest{}
	for _, e := range errs {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: e.Field, Description: e.Reason})
	}
	st, err := status.New(codes.InvalidArgument, errs.Error()).WithDetails(br)
	if err != nil {
		return status.Error(codes.InvalidArgument, errs.Error())
	}
	return st.Err()
}

// PublishEvents stores up to 1,000 events and reports each outcome.
func (g *GRPC) PublishEvents(ctx context.Context, req *ingestv1.PublishEventsRequest) (*ingestv1.PublishEventsResponse, error) {
	t, err := g.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	switch n := len(req.GetEvents()); {
	case n == 0:
		return nil, invalid(journey.Errors{{Field: "events", Reason: "must hold 1 to 1000 events"}})
	case n > app.MaxBatch:
		return nil, invalid(journey.Errors{{Field: "events", Reason: "holds more than 1000 events; split the batch"}})
	}
	results, err := g.publish(ctx, t, req.GetEvents())
	if err != nil {
		return nil, err
	}
	resp := &ingestv1.PublishEventsResponse{}
	for _, r := range results {
		resp.Results = append(resp.Results, toProto(r))
		switch r.Outcome {
		case app.Accepted:
			resp.Accepted++
		case app.Duplicate:
			resp.Duplicates++
		case app.Rejected:
			resp.Rejected++
		default:
			resp.Unavailable++
		}
	}
	return resp, nil
}
