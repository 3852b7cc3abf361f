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
	"sync"
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
	Interested(ctx context.Context, tenant, typ, source, segment string) (bool, error)
	HandleEvent(ctx context.Context, ev app.Event) error
	HandleTimer(ctx context.Context, t app.Timer) error
}

// EventHandler adapts the engine to the concurrent journey consume loop
// (journeystream.ConsumeConcurrently, keyed by CustomerKey): one event,
// with its own outcome.
func EventHandler(e Engine) journeystream.EachHandler {
	return func(d *journeystream.Delivery) error {
		if err := journey.CheckTenant(d.Event.GetTenant()); err != nil {
			return fmt.Errorf("%w: %v", journeystream.ErrPermanent, err)
		}
		seg := d.Event.GetSegmentEntered().GetSegment()
		if ok, err := e.Interested(d.Ctx, d.Event.GetTenant(), d.Event.GetType(), d.Event.GetSource(), seg); err != nil || !ok {
			return err // no rule could act on it
		}
		ev, err := ToEvent(d.Event)
		if err != nil {
			return fmt.Errorf("%w: %v", journeystream.ErrPermanent, err)
		}
		return e.HandleEvent(d.Ctx, ev)
	}
}

// CustomerKey keeps a customer's events in order: the tenant and the
// identity the engine keys the customer's state by.
func CustomerKey(ev *journeyv1.JourneyEvent) string {
	k := customerOf(ev.GetCustomer()).Key()
	if k == "" {
		return ""
	}
	return ev.GetTenant() + "/" + k
}

func customerOf(c *journeyv1.Customer) app.Customer {
	return app.Customer{CustomerID: c.GetCustomerId(), Email: c.GetEmail(), Phone: c.GetPhone(), AnonymousID: c.GetAnonymousId()}
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
	return app.Event{Tenant: ev.GetTenant(), ID: ev.GetId(), Type: ev.GetType(), Source: ev.GetSource(), OccurredAt: ev.GetOccurredAt().AsTime(), Doc: doc,
		Customer: customerOf(ev.GetCustomer())}, nil
}

// TimerConfig tunes the fired-timer consume loop.
type TimerConfig struct {
	Durable    string
	MaxDeliver int
	// Batch is how many timers per worker are pulled ahead.
	Batch int
	// MaxWait is the pause after a failed pull.
	MaxWait    time.Duration
	RetryDelay time.Duration
	// Workers handle timers at the same time, one customer's at a time.
	Workers int
}

// ConsumeTimers hands every fired timer to the engine until ctx ends, on
// cfg.Workers lanes keyed by customer, without waiting for batches to
// fill: timers falling due together fire together. A timer that arrives
// before its moment (schedules fire when their second begins) is held,
// unacknowledged, until then. A timer that keeps failing is dead-lettered
// after MaxDeliver deliveries.
func ConsumeTimers(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg TimerConfig, e Engine, log *slog.Logger) error {
	if cfg.Durable == "" || cfg.MaxDeliver <= 0 || cfg.Batch <= 0 || cfg.MaxWait <= 0 || cfg.Workers <= 0 {
		return errors.New("ports: timer consumer needs Durable, MaxDeliver, Batch, MaxWait and Workers")
	}
	it, err := c.Messages(jetstream.PullMaxMessages(cfg.Batch * cfg.Workers))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	type fired struct {
		msg       jetstream.Msg
		delivered uint64
		timer     app.Timer
	}
	lanes := journeystream.NewLanes(cfg.Workers, cfg.Batch, func(f fired) {
		began := time.Now()
		switch err := e.HandleTimer(ctx, f.timer); {
		case ctx.Err() != nil:
			_ = f.msg.Nak() // shutting down: hand it back at once
		case err == nil:
			_ = f.msg.Ack()
			journeystream.Observe(cfg.Durable, journeystream.OutcomeDone, time.Since(began))
		case f.delivered >= uint64(cfg.MaxDeliver):
			journeystream.DeadLetter(ctx, js, f.msg, f.delivered, fmt.Sprintf("failed %d deliveries: %v", f.delivered, err), cfg.Durable, cfg.RetryDelay, log)
		default:
			log.WarnContext(ctx, "timer failed, will retry", "rule", f.timer.RuleID, "err", err)
			_ = f.msg.NakWithDelay(journeystream.Backoff(cfg.RetryDelay, f.delivered))
			journeystream.Observe(cfg.Durable, journeystream.OutcomeRetried, time.Since(began))
		}
	})
	defer lanes.Close()
	held := newHolding()
	defer held.release() // before the lanes close: nothing is put on them after
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.WarnContext(ctx, "timer pull failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(cfg.MaxWait):
			}
			continue
		}
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
		key := t.Tenant + "/" + t.Customer.Key()
		f := fired{msg: msg, delivered: meta.NumDelivered, timer: t}
		if early := time.Until(t.At); early > 0 {
			held.until(early, func() {
				if !lanes.Put(ctx, key, f) {
					_ = msg.Nak()
				}
			}, func() { _ = msg.Nak() })
			continue
		}
		if !lanes.Put(ctx, key, f) {
			_ = msg.Nak()
			return nil
		}
	}
}

// holding keeps messages that arrived early until their moment.
type holding struct {
	mu      sync.Mutex
	closed  bool
	waiting map[*time.Timer]func()
	running sync.WaitGroup
}

func newHolding() *holding { return &holding{waiting: map[*time.Timer]func(){}} }

// until runs due after d, or dropped if the holding is released first.
func (h *holding) until(d time.Duration, due, dropped func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		dropped()
		return
	}
	var t *time.Timer
	h.running.Add(1)
	t = time.AfterFunc(d, func() {
		defer h.running.Done()
		h.mu.Lock()
		_, mine := h.waiting[t]
		delete(h.waiting, t)
		h.mu.Unlock()
		if mine {
			due()
		} else {
			dropped() // released while it was about to be handed on
		}
	})
	h.waiting[t] = dropped
}

// release drops what is still held and waits for what is being handed on.
func (h *holding) release() {
	h.mu.Lock()
	h.closed = true
	for t, dropped := range h.waiting {
		if t.Stop() {
			h.running.Done()
			dropped()
		}
		delete(h.waiting, t)
	}
	h.mu.Unlock()
	h.running.Wait()
}
