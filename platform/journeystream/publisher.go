// Package journeystream publishes journey events into the JOURNEY stream and
// consumes them from it: message ids for deduplication, trace context in
// headers, bounded waits for acknowledgements, and dead-lettering of
// messages a consumer cannot process.
package journeystream

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
)

// ContentType names the encoding of journey messages.
const ContentType = "application/protobuf; proto=cx.journey.v1.JourneyEvent"

// ErrUnavailable means JetStream did not acknowledge in time; the event was
// not, or not knowingly, stored. Publishing it again is safe.
var ErrUnavailable = errors.New("journey stream unavailable")

// Ack is JetStream's answer for one event.
type Ack struct {
	// Duplicate is true when an event with the same id was already stored.
	Duplicate bool
	// Seq is the stream sequence of the stored event.
	Seq uint64
	// Err wraps ErrUnavailable when the event was not acknowledged.
	Err error
}

// Publisher publishes events asynchronously and waits for every ack,
// bounded by a timeout, so an outage is an answer within that time.
type Publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
}

// NewPublisher returns a publisher over nc; timeout bounds one call.
func NewPublisher(nc *nats.Conn, timeout time.Duration) (*Publisher, error) {
	if nc == nil || timeout <= 0 {
		return nil, errors.New("journeystream: a NATS connection and a positive timeout are required")
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(timeout))
	if err != nil {
		return nil, err
	}
	return &Publisher{nc: nc, js: js, timeout: timeout}, nil
}

// Publish stores events on cx.<tenant>.journey.<type> with Nats-Msg-Id
// <tenant>:<id>, each under a PRODUCER span whose context travels in the
// message headers. The answers are in the order of events.
func (p *Publisher) Publish(ctx context.Context, events []*journeyv1.JourneyEvent) []Ack {
	out := make([]Ack, len(events))
	if !p.nc.IsConnected() {
		for i := range out {
			out[i].Err = fmt.Errorf("%w: not connected to NATS (%s)", ErrUnavailable, p.nc.Status())
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
			out[i].Err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	for i, f := range futures {
		if f != nil {
			out[i] = wait(ctx, f, p.timeout)
		}
		endSpan(spans[i], out[i].Err)
	}
	return out
}

func wait(ctx context.Context, f jetstream.PubAckFuture, timeout time.Duration) Ack {
	select {
	case ack := <-f.Ok():
		return Ack{Duplicate: ack.Duplicate, Seq: ack.Sequence}
	case err := <-f.Err():
		return Ack{Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	case <-ctx.Done():
		// An ack that arrived together with the deadline still counts.
		select {
		case ack := <-f.Ok():
			return Ack{Duplicate: ack.Duplicate, Seq: ack.Sequence}
		default:
			return Ack{Err: fmt.Errorf("%w: no acknowledgement within %s", ErrUnavailable, timeout)}
		}
	}
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
