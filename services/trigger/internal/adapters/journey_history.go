package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// historySkew is how long before a backtest's start the read of JOURNEY
// begins. The stream is read from a storage time, the window is on
// occurred_at; an event may be stored a little before the moment its
// sender's clock says it occurred (ingest allows minutes of skew).
const historySkew = time.Hour

// JourneyHistory reads a tenant's journey events back from the JOURNEY
// stream, for backtests, with an ordered consumer: ephemeral, flow
// controlled, and recreated by the client library where a message goes
// missing, so nothing is skipped or repeated.
type JourneyHistory struct {
	js jetstream.JetStream
}

// NewJourneyHistory returns a reader of JOURNEY over js.
func NewJourneyHistory(js jetstream.JetStream) (*JourneyHistory, error) {
	if js == nil {
		return nil, errors.New("journey history: no JetStream context")
	}
	return &JourneyHistory{js: js}, nil
}

var _ app.History = (*JourneyHistory)(nil)

// Events calls yield with each of the tenant's events that occurred in
// [start, end), in stream order, reading from start (less historySkew)
// until it has caught up with the stream. Every event stored since start
// is read, whatever its occurred_at, as an imported history may be stored
// long after it occurred; events that cannot be decoded are skipped.
func (h *JourneyHistory) Events(ctx context.Context, tenant string, start, end time.Time, yield func(app.Event) error) error {
	if err := journey.CheckTenant(tenant); err != nil {
		return fmt.Errorf("journey history: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{journey.Subject(tenant, ">")}, InactiveThreshold: time.Minute}
	if !start.IsZero() {
		from := start.Add(-historySkew)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	c, err := h.js.OrderedConsumer(ctx, topology.Journey, cfg)
	if err != nil {
		return fmt.Errorf("journey history: %w", err)
	}
	msgs, err := c.Messages()
	if err != nil {
		return fmt.Errorf("journey history: %w", err)
	}
	defer msgs.Stop()
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("journey history: %w", err)
	}
	if info.NumPending == 0 {
		return nil
	}
	for {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("journey history: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("journey history: %w", err)
		}
		if ev, ok := historyEvent(msg.Data()); ok && !ev.OccurredAt.Before(start) && ev.OccurredAt.Before(end) {
			if err := yield(ev); err != nil {
				return err
			}
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

// historyEvent decodes a stored journey event as the engine sees it: its
// JSON form with proto field names and zero values written out, as
// ports.ToEvent makes it for the live engine (adapters cannot import
// ports), so that a backtest reads events as the rule would have.
func historyEvent(data []byte) (app.Event, bool) {
	ev := &journeyv1.JourneyEvent{}
	if proto.Unmarshal(data, ev) != nil {
		return app.Event{}, false
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}.Marshal(ev)
	if err != nil {
		return app.Event{}, false
	}
	var doc map[string]any
	if json.Unmarshal(js, &doc) != nil {
		return app.Event{}, false
	}
	c := ev.GetCustomer()
	return app.Event{Tenant: ev.GetTenant(), ID: ev.GetId(), Type: ev.GetType(), Source: ev.GetSource(), OccurredAt: ev.GetOccurredAt().AsTime(), Doc: doc,
		Customer: app.Customer{CustomerID: c.GetCustomerId(), Email: c.GetEmail(), Phone: c.GetPhone(), AnonymousID: c.GetAnonymousId()}}, true
}
