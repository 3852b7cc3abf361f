package journeystream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/natstrace"
)

// Dead-letter headers, beside the original message's own.
const (
	HeaderDeadReason     = "Bazgasht-Dead-Reason"
	HeaderDeadSubject    = "Bazgasht-Dead-Subject"
	HeaderDeadConsumer   = "Bazgasht-Dead-Consumer"
	HeaderDeadDeliveries = "Bazgasht-Dead-Deliveries"
)

// ErrPermanent marks a handler error no retry can fix (an invalid event):
// the message is dead-lettered at once.
var ErrPermanent = errors.New("permanent failure")

// ErrHeld is what a handler returns for a delivery it keeps to settle
// later with Delivery.Settle (Consume only): the message stays
// unacknowledged meanwhile, so a crash redelivers it. The handler must
// settle it well within the consumer's AckWait.
var ErrHeld = errors.New("held by the handler, settled later")

// ErrRequeue settles a held delivery whose work was dropped through no
// fault of its own (another event's failure, a restart): it is delivered
// again after RetryDelay, without backing off and never dead-lettered for
// it.
var ErrRequeue = errors.New("dropped, to be delivered again")

// Delivery is one journey event handed to a handler.
type Delivery struct {
	// Ctx carries the CONSUMER span, a child of the publisher's.
	Ctx   context.Context
	Event *journeyv1.JourneyEvent
	// Seq is the event's position in the stream.
	Seq uint64
	// Delivered counts deliveries of this message, from 1.
	Delivered uint64
	msg       jetstream.Msg
	span      trace.Span
	start     time.Time
	// later settles a held delivery, once.
	later func(error)
	once  sync.Once
}

// Settle settles a delivery its handler held: nil acknowledges it, an
// error retries or dead-letters it as if the handler had returned it.
// Only the first call counts; outside Consume it does nothing.
func (d *Delivery) Settle(err error) {
	if d.later == nil {
		return
	}
	d.once.Do(func() { d.later(err) })
}

// Handler processes a batch in stream order and returns one error per
// delivery (nil: done). A failed delivery is retried later, and
// dead-lettered once it has failed MaxDeliver times.
type Handler func(ctx context.Context, batch []*Delivery) []error

// ConsumeConfig tunes a consume loop.
type ConsumeConfig struct {
	// Durable names the consumer group, in spans and dead letters.
	Durable string
	// MaxDeliver is the delivery on which a failing message is dead-lettered.
	// The consumer itself must not limit deliveries (MaxDeliver -1): if
	// dead-lettering fails, the message must come back.
	MaxDeliver int
	// Batch is the most messages handed to the handler at once.
	Batch int
	// MaxWait is the pause after a failed pull.
	MaxWait time.Duration
	// RetryDelay is how long a failed message waits before its second
	// delivery; each later one waits twice as long, up to MaxRetryDelay, so
	// an outage of a dependency is ridden out rather than dead-lettered.
	RetryDelay time.Duration
}

// MaxRetryDelay caps the wait between deliveries of a failing message.
const MaxRetryDelay = 5 * time.Minute

// Backoff is the wait before delivery number delivered+1 of a message that
// failed: base, 2×base, 4×base, … up to MaxRetryDelay.
func Backoff(base time.Duration, delivered uint64) time.Duration {
	d := base
	for i := uint64(1); i < delivered && d < MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}

// Consume pulls from c and hands batches to h until ctx ends. A batch is
// whatever has arrived when the handler is free, up to Batch messages: one
// event alone is handled at once (a quiet shop's event is not held back to
// fill a batch), and under load the batches fill up while the handler
// works on the one before. Messages that cannot be decoded are
// dead-lettered at once: no retry can fix them.
func Consume(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg ConsumeConfig, h Handler, log *slog.Logger) error {
	if cfg.Batch <= 0 || cfg.MaxDeliver <= 0 || cfg.MaxWait <= 0 || cfg.Durable == "" {
		return errors.New("journeystream: Durable, MaxDeliver, Batch and MaxWait are required")
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2 * cfg.Batch))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	arrived := make(chan jetstream.Msg, cfg.Batch)
	go func() {
		defer close(arrived)
		for {
			msg, err := it.Next()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				log.WarnContext(ctx, "pull failed", "consumer", cfg.Durable, "err", err)
				sleep(ctx, cfg.MaxWait)
				continue
			}
			select {
			case arrived <- msg:
			case <-ctx.Done():
				_ = msg.Nak()
				return
			}
		}
	}()
	for {
		first, ok := <-arrived
		if !ok {
			return nil
		}
		batch := []jetstream.Msg{first}
	fill:
		for len(batch) < cfg.Batch {
			select {
			case msg, ok := <-arrived:
				if !ok {
					break fill
				}
				batch = append(batch, msg)
			default:
				break fill
			}
		}
		var deliveries []*Delivery
		for _, msg := range batch {
			if d := decode(ctx, js, msg, cfg, log); d != nil {
				deliveries = append(deliveries, d)
			}
		}
		if len(deliveries) == 0 {
			continue
		}
		if ctx.Err() != nil {
			for _, d := range deliveries {
				_ = d.msg.Nak() // shutting down: hand them back at once
				d.span.End()
			}
			continue
		}
		for _, d := range deliveries {
			d.later = func(err error) { settle(ctx, js, d, err, cfg, log) }
		}
		errs := h(ctx, deliveries)
		for i, d := range deliveries {
			if !errors.Is(errs[i], ErrHeld) {
				d.Settle(errs[i])
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func decode(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, cfg ConsumeConfig, log *slog.Logger) *Delivery {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return nil
	}
	msgID := msg.Headers().Get(jetstream.MsgIDHeader)
	sctx, span := natstrace.StartConsume(ctx, &nats.Msg{Subject: msg.Subject(), Header: msg.Headers()}, cfg.Durable, msgID)
	ev := &journeyv1.JourneyEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		deadLetter(sctx, js, msg, meta.NumDelivered, "undecodable: "+err.Error(), cfg, log)
		span.End()
		return nil
	}
	return &Delivery{Ctx: sctx, Event: ev, Seq: meta.Sequence.Stream, Delivered: meta.NumDelivered, msg: msg, span: span, start: time.Now()}
}

func settle(ctx context.Context, js jetstream.JetStream, d *Delivery, err error, cfg ConsumeConfig, log *slog.Logger) {
	if errors.Is(err, ErrHeld) {
		err = errors.New("settled as held")
	}
	defer d.span.End()
	switch {
	case err == nil:
		_ = d.msg.Ack()
		Observe(cfg.Durable, OutcomeDone, time.Since(d.start))
	case errors.Is(err, ErrPermanent):
		deadLetter(d.Ctx, js, d.msg, d.Delivered, err.Error(), cfg, log)
	case errors.Is(err, ErrRequeue):
		_ = d.msg.NakWithDelay(cfg.RetryDelay)
		Observe(cfg.Durable, OutcomeRetried, time.Since(d.start))
	case d.Delivered >= uint64(cfg.MaxDeliver):
		deadLetter(d.Ctx, js, d.msg, d.Delivered, fmt.Sprintf("failed %d deliveries: %v", d.Delivered, err), cfg, log)
	default:
		log.WarnContext(d.Ctx, "event failed, will retry", "consumer", cfg.Durable, "seq", d.Seq, "delivery", d.Delivered, "err", err)
		_ = d.msg.NakWithDelay(Backoff(cfg.RetryDelay, d.Delivered))
		Observe(cfg.Durable, OutcomeRetried, time.Since(d.start))
	}
}

func deadLetter(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, delivered uint64, reason string, cfg ConsumeConfig, log *slog.Logger) {
	DeadLetter(ctx, js, msg, delivered, reason, cfg.Durable, cfg.RetryDelay, log)
}

// DeadLetter copies msg to cx.<tenant>.deadletter.<durable> with the reason
// and terminates it; the tenant is the subject's second token. If the copy
// cannot be stored, the message is left for redelivery after retryDelay
// rather than lost.
func DeadLetter(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, delivered uint64, reason, durable string, retryDelay time.Duration, log *slog.Logger) {
	tenant := "unknown"
	if parts := strings.Split(msg.Subject(), "."); len(parts) > 2 && journey.CheckTenant(parts[1]) == nil {
		tenant = parts[1]
	}
	dl := &nats.Msg{Subject: "cx." + tenant + ".deadletter." + durable, Data: msg.Data(), Header: nats.Header{}}
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	dl.Header.Set(HeaderDeadReason, reason)
	dl.Header.Set(HeaderDeadSubject, msg.Subject())
	dl.Header.Set(HeaderDeadConsumer, durable)
	dl.Header.Set(HeaderDeadDeliveries, strconv.FormatUint(delivered, 10))
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(pctx, dl); err != nil {
		log.ErrorContext(ctx, "dead-lettering failed; message left for redelivery", "consumer", durable, "err", err)
		_ = msg.NakWithDelay(retryDelay)
		return
	}
	log.WarnContext(ctx, "message dead-lettered", "consumer", durable, "subject", msg.Subject(), "reason", reason)
	_ = msg.Term()
	Observe(durable, OutcomeDeadLettered, 0)
}
