// Package adapters holds what the ingest service talks out to: the journey
// stream in JetStream, the tenants file, the rate limiter.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
)

// ContentType names the encoding of journey messages in JetStream.
const ContentType = "application/protobuf; proto=cx.journey.v1.JourneyEvent"

// JourneyPublisher publishes events to the JOURNEY stream asynchronously and
// waits for every acknowledgement, bounded by a timeout, so a broker outage
// is an answer within that time and never a hang.
type JourneyPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
}

// NewJourneyPublisher returns a publisher over nc. timeout bounds one call.
func NewJourneyPublisher(nc *nats.Conn, timeout time.Duration) (*JourneyPublisher, error) {
	if nc == nil || timeout <= 0 {
		return nil, errors.New("adapters: a NATS connection and a positive publish timeout are required")
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(8192),
		jetstream.WithPublishAsyncTimeout(timeout),
	)
	if err != nil {
		return nil, err
	}
	return &JourneyPublisher{nc: nc, js: js, timeout: timeout}, nil
}

var _ app.Publisher = (*JourneyPublisher)(nil)

// Publish stores events with Nats-Msg-Id <tenant>:<id>, so JetStream keeps
// one copy of a retried event within its duplicate window.
func (p *JourneyPublisher) Publish(ctx context.Context, events []*journeyv1.JourneyEvent) []app.Stored {
	out := make([]app.Stored, len(events))
	if !p.nc.IsConnected() {
		for i := range out {
			out[i].Err = fmt.Errorf("%w: not connected to NATS (%s)", app.ErrUnavailable, p.nc.Status())
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	futures := make([]jetstream.PubAckFuture, len(events))
	spans := make([]trace.Span, len(events))
	for i, ev := range events {
		data, err := proto.Marshal(ev)
		if err != nil {
			out[i].Err = fmt.Errorf("encode event: %w", err)
			continue
		}
		subject := journey.Subject(ev.GetTenant(), ev.GetType())
		msgID := journey.MsgID(ev.GetTenant(), ev.GetId())
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		msg.Header.Set("Content-Type", ContentType)
		_, spans[i] = natstrace.StartPublish(ctx, subject, msgID, msg.Header)
		futures[i], err = p.js.PublishMsgAsync(msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(topology.Journey))
		if err != nil {
			out[i].Err = fmt.Errorf("%w: %v", app.ErrUnavailable, err)
		}
	}
	for i, f := range futures {
		if f == nil {
			endSpan(spans[i], out[i].Err)
			continue
		}
		select {
		case ack := <-f.Ok():
			out[i].Duplicate = ack.Duplicate
		case err := <-f.Err():
			out[i].Err = fmt.Errorf("%w: %v", app.ErrUnavailable, err)
		case <-ctx.Done():
			// An ack that arrived together with the deadline still counts.
			select {
			case ack := <-f.Ok():
				out[i].Duplicate = ack.Duplicate
			default:
				out[i].Err = fmt.Errorf("%w: no acknowledgement within %s", app.ErrUnavailable, p.timeout)
			}
		}
		endSpan(spans[i], out[i].Err)
	}
	return out
}

func endSpan(s trace.Span, err error) {
	if s == nil {
		return
	}
	if err != nil {
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}
