package journeystream

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// EachHandler handles one delivery; its error settles the delivery as a
// Handler's does.
type EachHandler func(d *Delivery) error

// ConcurrentConfig tunes ConsumeConcurrently.
type ConcurrentConfig struct {
	ConsumeConfig
	// Workers handle deliveries at the same time; deliveries with the same
	// key go to the same worker, so they are handled one at a time in
	// stream order.
	Workers int
	// Key names what must stay in order (a customer); deliveries with an
	// empty key are spread over the workers by subject and sequence.
	Key func(*journeyv1.JourneyEvent) string
}

// ConsumeConcurrently pulls from c without waiting for batches to fill and
// hands each delivery to one of cfg.Workers workers, which settles it as
// soon as it is handled. Where Consume handles a batch and then fetches the
// next, an event here waits only for the events before it with the same
// key: a handler that waits on the network (a profile read, a state
// write) keeps the others going. Undecodable messages are dead-lettered at
// once, as in Consume.
//
// At most Batch messages per worker are pulled ahead; the consumer's
// AckWait must cover a worker's queue.
func ConsumeConcurrently(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, cfg ConcurrentConfig, h EachHandler, log *slog.Logger) error {
	if cfg.Batch <= 0 || cfg.MaxDeliver <= 0 || cfg.MaxWait <= 0 || cfg.Durable == "" || cfg.Workers <= 0 || cfg.Key == nil {
		return errors.New("journeystream: Durable, MaxDeliver, Batch, MaxWait, Workers and Key are required")
	}
	it, err := c.Messages(jetstream.PullMaxMessages(cfg.Batch * cfg.Workers))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	lanes := NewLanes(cfg.Workers, cfg.Batch, func(d *Delivery) {
		if ctx.Err() != nil {
			// Shutting down: hand it back at once rather than fail it.
			_ = d.msg.Nak()
			d.span.End()
			return
		}
		settle(ctx, js, d, h(d), cfg.ConsumeConfig, log)
	})
	defer lanes.Close()

	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.WarnContext(ctx, "pull failed", "consumer", cfg.Durable, "err", err)
			sleep(ctx, cfg.MaxWait)
			continue
		}
		d := decode(ctx, js, msg, cfg.ConsumeConfig, log)
		if d == nil {
			continue
		}
		key := cfg.Key(d.Event)
		if key == "" {
			key = msg.Subject() + "#" + d.Event.GetId()
		}
		if !lanes.Put(ctx, key, d) {
			_ = d.msg.Nak()
			d.span.End()
			return nil
		}
	}
}
