package journeystream_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/topology"
)

// A delivery the handler holds stays unacknowledged until it is settled:
// Settle(nil) acknowledges it, an error has it delivered again, and only
// the first Settle counts.
func TestHeldDeliveriesAreSettledLater(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, time.Minute)
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Profile(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	pub, err := journeystream.NewPublisher(srv.NC, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*journeyv1.JourneyEvent
	for i := range 2 {
		evs = append(evs, &journeyv1.JourneyEvent{Id: fmt.Sprint("e", i), Tenant: "shop", Type: "trigger.fired",
			Customer: &journeyv1.Customer{CustomerId: "c"}, OccurredAt: timestamppb.Now(), ReceivedAt: timestamppb.Now(), Source: "trigger"})
	}
	for _, a := range pub.Publish(ctx, evs) {
		if a.Err != nil {
			t.Fatal(a.Err)
		}
	}
	cons, err := srv.JS.Consumer(ctx, topology.Journey, topology.ProfileConsumer)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	held := map[string]*journeystream.Delivery{}
	deliveries := map[string]int{}
	handler := func(_ context.Context, batch []*journeystream.Delivery) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(batch))
		for i, d := range batch {
			deliveries[d.Event.GetId()]++
			held[d.Event.GetId()] = d
			errs[i] = journeystream.ErrHeld
		}
		return errs
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- journeystream.Consume(cctx, srv.JS, cons, journeystream.ConsumeConfig{Durable: topology.ProfileConsumer, MaxDeliver: 5, Batch: 10,
			MaxWait: 50 * time.Millisecond, RetryDelay: 20 * time.Millisecond}, handler, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-done })

	unacked := func(n int) func() bool {
		return func() bool {
			ci, err := cons.Info(ctx)
			return err == nil && ci.NumPending == 0 && ci.NumAckPending == n && ci.NumRedelivered == 0
		}
	}
	poll.Until(t, 10*time.Second, "both events held, unacknowledged", func() bool {
		mu.Lock()
		n := len(held)
		mu.Unlock()
		return n == 2 && unacked(2)()
	})
	mu.Lock()
	e0, e1 := held["e0"], held["e1"]
	mu.Unlock()
	e0.Settle(nil)
	e0.Settle(errors.New("too late: settled already"))
	poll.Until(t, 10*time.Second, "e0 acknowledged, e1 still held", unacked(1))

	e1.Settle(errors.New("its change was dropped"))
	poll.Until(t, 10*time.Second, "e1 delivered again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deliveries["e1"] == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if deliveries["e0"] != 1 {
		t.Fatalf("e0 was delivered %d times after Settle(nil), then an error: want once", deliveries["e0"])
	}
}
