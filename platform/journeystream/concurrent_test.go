package journeystream_test

import (
	"context"
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

// ConsumeConcurrently handles different customers' events at the same
// time, one customer's in stream order, acknowledges each once handled, and
// retries a failed one.
func TestConsumeConcurrentlyKeepsEachCustomersOrder(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, time.Minute)
	set := topology.Profile(topology.Options{})
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatal(err)
	}
	pub, err := journeystream.NewPublisher(srv.NC, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const customers, each = 6, 20
	var evs []*journeyv1.JourneyEvent
	for i := range each {
		for c := range customers {
			evs = append(evs, &journeyv1.JourneyEvent{Id: fmt.Sprintf("c%d-%02d", c, i), Tenant: "shop", Type: "product.viewed",
				Customer: &journeyv1.Customer{CustomerId: fmt.Sprint("c", c)}, OccurredAt: timestamppb.Now(), ReceivedAt: timestamppb.Now(), Source: "api",
				Payload: &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p"}}}})
		}
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
	seen := map[string][]string{}
	inFlight := 0
	failedOnce, released := false, false
	release := make(chan struct{})
	handler := func(d *journeystream.Delivery) error {
		mu.Lock()
		inFlight++
		fail := d.Event.GetId() == "c3-05" && !failedOnce
		failedOnce = failedOnce || fail
		if inFlight >= 2 && !released {
			released = true
			close(release)
		}
		mu.Unlock()
		// The first events of the customers wait until two are in flight
		// together: handled one at a time, they would wait 10 s each.
		if d.Seq <= customers {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		mu.Lock()
		defer mu.Unlock()
		inFlight--
		if fail {
			return fmt.Errorf("a dependency is down")
		}
		c := d.Event.GetCustomer().GetCustomerId()
		seen[c] = append(seen[c], d.Event.GetId())
		return nil
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- journeystream.ConsumeConcurrently(cctx, srv.JS, cons, journeystream.ConcurrentConfig{
			ConsumeConfig: journeystream.ConsumeConfig{Durable: topology.ProfileConsumer, MaxDeliver: 5, Batch: 4, MaxWait: 50 * time.Millisecond, RetryDelay: 10 * time.Millisecond},
			Workers:       customers * 2,
			Key:           func(ev *journeyv1.JourneyEvent) string { return ev.GetCustomer().GetCustomerId() },
		}, handler, slog.New(slog.DiscardHandler))
	}()
	poll.Until(t, 20*time.Second, "every event handled and acknowledged", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.AckFloor.Stream == uint64(len(evs))
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !released {
		t.Fatal("no two customers' events were handled at the same time")
	}
	for c := range customers {
		got := seen[fmt.Sprint("c", c)]
		if len(got) != each && c != 3 {
			t.Fatalf("customer c%d: %d events handled, want %d: %v", c, len(got), each, got)
		}
		// In stream order, but for the one retried, which comes back later.
		var want []string
		for i := range each {
			if id := fmt.Sprintf("c%d-%02d", c, i); id != "c3-05" {
				want = append(want, id)
			}
		}
		var inOrder []string
		for _, id := range got {
			if id != "c3-05" {
				inOrder = append(inOrder, id)
			}
		}
		if fmt.Sprint(inOrder) != fmt.Sprint(want) {
			t.Fatalf("customer c%d's events handled in the order %v, want %v", c, inOrder, want)
		}
	}
	if n := len(seen["c3"]); n != each {
		t.Fatalf("customer c3: %d events handled, want %d (the failed one retried)", n, each)
	}
}
