// Package ports is how the world reaches the trigger service: the JOURNEY
// consumer, the consumer of fired timers, and the gRPC TriggerService.
package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// Engine is the use case the consumers drive.
type Engine interface {
	HandleEvent(ctx context.Context, ev app.Event) error
	HandleTimer(ctx context.Context, t app.Timer) error
}

// EventHandler adapts the engine to the journey consume loop: each event,
// in stream order, with its own outcome.
func EventHandler(e Engine) journeystream.Handler {
	return func(ctx context.Context, batch []*journeystream.Delivery) []error {
		errs := make([]error, len(batch))
		for i, d := range batch {
			if err := journey.CheckTenant(d.Event.GetTenant()); err != nil {
				errs[i] = fmt.Errorf("%w: %v", journeystream.ErrPermanent, err)
				continue
			}
			ev, err := ToEvent(d.Event)
			if err != nil {
				errs[i] = fmt.Errorf("%w: %v", journeystream.ErrPermanent, err)
				continue
			}
			errs[i] = e.HandleEvent(d.Ctx, ev)
		}
		return errs
	}
}

// ToEvent converts a journey event for the engine: its JSON form (proto
// field names) is what conditions and correlations read.
func ToEvent(ev *journeyv1.JourneyEvent) (app.Event, error) {
	// Zero values are written out: an NPS of 0 must read as 0, not as a
	// missing score.
	data, err := protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}.Marshal(ev)
	if err != nil {
		return app.Event{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return app.Event{}, err
	}
	c := ev.GetCustomer()
	return app.Event{Tenant: ev.GetTenant(), ID: ev.GetId(), Type: ev.GetType(), Source: ev.GetSource(), OccurredAt: ev.GetOccurredAt().AsTime(), Doc: doc,
		Customer: app.Customer{CustomerID: c.GetCustomerId(), Email: c.GetEmail(), Phone: c.GetPhone(), AnonymousID: c.GetAnonymousId()}}, nil
}

// TimerConfig tunes the fired-timer consume loop.
type TimerConfig struct {
	Durable    string
	MaxDeliver int
	Batch      int
	MaxWait    time.Duration
	RetryDelay time.Duration
}

// ConsumeTimers hands every fired timer to the engine until ctx ends. A
// timer that keeps failing is dead-lettered after MaxDeliver deliveries.
func ConsumeTimers(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg TimerConfig, e Engine, log *slog.Logger) error {
	if cfg.Durable == "" || cfg.MaxDeliver <= 0 || cfg.Batch <= 0 || cfg.MaxWait <= 0 {
		return errors.New("ports: timer consumer needs Durable, MaxDeliver, Batch and MaxWait")
	}
	for ctx.Err() == nil {
		batch, err := c.Fetch(cfg.Batch, jetstream.FetchMaxWait(cfg.MaxWait))
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "timer fetch failed", "err", err)
				time.Sleep(cfg.MaxWait)
			}
			continue
		}
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				_ = msg.Term()
				continue
			}
			var t app.Timer
			if err := json.Unmarshal(msg.Data(), &t); err != nil {
				journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, "undecodable timer: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
				continue
			}
			// The subject, which only the scheduler writes, names the tenant.
			if parts := strings.SplitN(msg.Subject(), ".", 5); len(parts) < 5 || parts[3] != t.Tenant || journey.CheckTenant(t.Tenant) != nil {
				journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, "timer's tenant does not match its subject", cfg.Durable, cfg.RetryDelay, log)
				continue
			}
			switch err := e.HandleTimer(ctx, t); {
			case err == nil:
				_ = msg.Ack()
			case meta.NumDelivered >= uint64(cfg.MaxDeliver):
				journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, fmt.Sprintf("failed %d deliveries: %v", meta.NumDelivered, err), cfg.Durable, cfg.RetryDelay, log)
			default:
				log.WarnContext(ctx, "timer failed, will retry", "rule", t.RuleID, "err", err)
				_ = msg.NakWithDelay(journeystream.Backoff(cfg.RetryDelay, meta.NumDelivered))
			}
		}
	}
	return nil
}
