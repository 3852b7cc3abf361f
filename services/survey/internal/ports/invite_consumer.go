package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// InviteConsumerConfig tunes the consumer of SURVEY_INVITATIONS.
type InviteConsumerConfig struct {
	// Durable is the consumer's name, for spans and dead letters.
	Durable string
	// MaxDeliver is how often a request is tried before it is
	// dead-lettered.
	MaxDeliver int
	// Batch is how many requests per worker are pulled ahead; MaxWait the
	// pause after a failed pull.
	Batch   int
	MaxWait time.Duration
	// Workers handle requests at the same time, one customer's at a time.
	Workers int
	// RetryDelay is the first wait before a failed request comes back;
	// it doubles with every delivery.
	RetryDelay time.Duration
}

// ConsumeInvitations takes invitation requests from the work queue until
// ctx ends. A request that can never succeed (bad input, an unknown or
// archived survey) is dead-lettered at once with the reason; one that
// failed for a passing cause (the profile service or the broker away)
// comes back later, and is dead-lettered after MaxDeliver tries.
//
// Requests are pulled continuously and handled on cfg.Workers lanes keyed
// by tenant and customer: an invitation waits on the profile service and
// several store writes, so one at a time caps the queue at a couple of
// hundred a second; one customer's requests still go one at a time (the
// fatigue claim is compare-and-set across lanes and replicas anyway).
func ConsumeInvitations(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg InviteConsumerConfig, a *app.App, log *slog.Logger) error {
	if cfg.Durable == "" || cfg.MaxDeliver <= 0 || cfg.Batch <= 0 || cfg.MaxWait <= 0 || cfg.Workers <= 0 || a == nil {
		return errors.New("invite consumer: Durable, MaxDeliver, Batch, MaxWait, Workers and the app are required")
	}
	it, err := c.Messages(jetstream.PullMaxMessages(cfg.Batch * cfg.Workers))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	lanes := journeystream.NewLanes(cfg.Workers, cfg.Batch, func(msg jetstream.Msg) {
		if ctx.Err() != nil {
			_ = msg.Nak() // shutting down: hand it back at once
			return
		}
		handleInvite(ctx, js, msg, cfg, a, log)
	})
	defer lanes.Close()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.WarnContext(ctx, "pull failed", "consumer", cfg.Durable, "err", err)
			wait(ctx, cfg.MaxWait)
			continue
		}
		key := msg.Subject()
		req := &surveyv1.InviteRequest{}
		if proto.Unmarshal(msg.Data(), req) == nil {
			c := req.GetCustomer()
			key += "/" + c.GetCustomerId() + "/" + c.GetEmail() + "/" + c.GetPhone() + "/" + c.GetAnonymousId()
		}
		if !lanes.Put(ctx, key, msg) {
			_ = msg.Nak()
			return nil
		}
	}
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func handleInvite(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, cfg InviteConsumerConfig, a *app.App, log *slog.Logger) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	sctx, span := natstrace.StartConsume(ctx, &nats.Msg{Subject: msg.Subject(), Header: msg.Headers()}, cfg.Durable, msg.Headers().Get(jetstream.MsgIDHeader))
	defer span.End()
	req := &surveyv1.InviteRequest{}
	if err := proto.Unmarshal(msg.Data(), req); err != nil {
		journeystream.DeadLetter(sctx, js, msg, meta.NumDelivered, "undecodable: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
		return
	}
	// The subject, cx.<tenant>.survey.invite, is what publish permissions
	// guard: a request naming another tenant is not that tenant's.
	if parts := strings.Split(msg.Subject(), "."); len(parts) != 4 || parts[1] != req.GetTenant() {
		journeystream.DeadLetter(sctx, js, msg, meta.NumDelivered, "permanent: tenant: the request's tenant does not match its subject", cfg.Durable, cfg.RetryDelay, log)
		return
	}
	began := time.Now()
	inv, dup, err := a.Invite(sctx, InviteRequest(req))
	var fe *survey.FieldError
	switch {
	case err == nil:
		log.DebugContext(sctx, "invitation handled", "invitation", inv.ID, "duplicate", dup, "status", int(inv.Status))
		_ = msg.Ack()
		journeystream.Observe(cfg.Durable, journeystream.OutcomeDone, time.Since(began))
	case errors.As(err, &fe), errors.Is(err, app.ErrNotFound), errors.Is(err, app.ErrArchived):
		journeystream.DeadLetter(sctx, js, msg, meta.NumDelivered, "permanent: "+err.Error(), cfg.Durable, cfg.RetryDelay, log)
	case meta.NumDelivered >= uint64(cfg.MaxDeliver):
		journeystream.DeadLetter(sctx, js, msg, meta.NumDelivered, fmt.Sprintf("failed %d deliveries: %v", meta.NumDelivered, err), cfg.Durable, cfg.RetryDelay, log)
	default:
		log.WarnContext(sctx, "invitation failed, will retry", "consumer", cfg.Durable, "delivery", meta.NumDelivered, "err", err)
		_ = msg.NakWithDelay(journeystream.Backoff(cfg.RetryDelay, meta.NumDelivered))
		journeystream.Observe(cfg.Durable, journeystream.OutcomeRetried, time.Since(began))
	}
}
