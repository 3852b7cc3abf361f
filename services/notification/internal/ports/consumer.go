package ports

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// ConsumerConfig tunes the work-queue consumer.
type ConsumerConfig struct {
	// Durable is the consumer's name, for spans and dead letters.
	Durable string
	// Workers is how many notifications are in flight at once: sending is
	// waiting on providers, so many run side by side.
	Workers int
	// Prefetch is how many requests are pulled ahead of the workers.
	Prefetch int
	// RetryDelay is the base backoff after an error that decided nothing
	// (a store or the profile service unreachable).
	RetryDelay time.Duration
	// Defer, when set, takes requests that must wait (held for quiet
	// hours, backing off) off this consumer: they are copied to the
	// deferred stream and acknowledged here. The deferred stream's own
	// consumer has none and keeps them, unacknowledged, until due.
	Defer Deferrer
	// Deferred marks the consumer of the deferred stream, whose subjects
	// are cx.notification.deferred.<tenant> rather than
	// cx.<tenant>.notification.send.
	Deferred bool
}

// Deferrer stores a copy of a request on the deferred stream.
type Deferrer interface {
	Defer(ctx context.Context, tenant string, data []byte, seq uint64) error
}

// ConsumeRequests dispatches requests from NOTIFICATION_REQUESTS until ctx
// ends, Workers at a time. A request is acknowledged only once its outcome
// is in the ledger and its journey event in JOURNEY; a request that can
// never be sent (undecodable, invalid) goes to the dead-letter stream with
// the reason.
func ConsumeRequests(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg ConsumerConfig, d *app.Dispatcher, log *slog.Logger) error {
	if cfg.Workers <= 0 || cfg.Prefetch <= 0 || cfg.RetryDelay <= 0 || cfg.Durable == "" || d == nil {
		return errors.New("ports: Durable, Workers, Prefetch, RetryDelay and a dispatcher are required")
	}
	it, err := c.Messages(jetstream.PullMaxMessages(cfg.Prefetch))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	slots := make(chan struct{}, cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Work in flight finishes even when ctx ends: a send half done is
	// worse than a shutdown a little later.
	wctx := context.WithoutCancel(ctx)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.WarnContext(ctx, "fetching requests failed", "err", err)
			select { // the iterator reconnects by itself; don't spin meanwhile
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			handle(wctx, js, msg, cfg, d, log)
		}()
	}
}

func handle(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, cfg ConsumerConfig, d *app.Dispatcher, log *slog.Logger) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	ctx, span := natstrace.StartConsume(ctx, &nats.Msg{Subject: msg.Subject(), Header: msg.Headers()}, cfg.Durable, msg.Headers().Get(jetstream.MsgIDHeader))
	defer span.End()
	var pr notificationv1.SendRequest
	if err := proto.Unmarshal(msg.Data(), &pr); err != nil {
		journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, "undecodable: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
		return
	}
	req, err := adapters.RequestFromProto(&pr)
	if err == nil && subjectOf(req.Tenant, cfg.Deferred) != msg.Subject() {
		err = &notification.FieldError{Field: "tenant", Problem: "does not match the subject's tenant"}
	}
	if err != nil {
		journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, "invalid request: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
		return
	}
	// A deferred copy always has a ledger record: only a first delivery
	// from the work queue may skip reading it.
	began := time.Now()
	res, err := d.Process(ctx, req, meta.NumDelivered == 1 && !cfg.Deferred)
	outcome := journeystream.OutcomeDone
	defer func() {
		if outcome != "" {
			journeystream.Observe(cfg.Durable, outcome, time.Since(began))
		}
	}()
	switch {
	case errors.Is(err, notification.ErrInvalid):
		outcome = "" // DeadLetter counts it
		journeystream.DeadLetter(ctx, js, msg, meta.NumDelivered, "invalid request: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
	case err != nil:
		outcome = journeystream.OutcomeRetried
		log.WarnContext(ctx, "notification not decided, will retry", "tenant", req.Tenant, "delivery", meta.NumDelivered, "err", err)
		_ = msg.NakWithDelay(journeystream.Backoff(cfg.RetryDelay, meta.NumDelivered))
	case res.Action == app.Retry && cfg.Defer != nil:
		if err := cfg.Defer.Defer(ctx, req.Tenant, msg.Data(), meta.Sequence.Stream); err != nil {
			log.WarnContext(ctx, "deferring failed, kept on the work queue", "tenant", req.Tenant, "err", err)
			_ = msg.NakWithDelay(max(res.Delay, time.Millisecond))
			outcome = journeystream.OutcomeRetried
			return
		}
		_ = msg.Ack()
	case res.Action == app.Retry:
		_ = msg.NakWithDelay(max(res.Delay, time.Millisecond))
		outcome = journeystream.OutcomeRetried
	default:
		_ = msg.Ack()
	}
}

// subjectOf is the subject a tenant's request must arrive on: a request
// naming another tenant than its subject is refused.
func subjectOf(tenant string, deferred bool) string {
	if deferred {
		return adapters.DeferredSubject(tenant)
	}
	return "cx." + tenant + ".notification.send"
}
