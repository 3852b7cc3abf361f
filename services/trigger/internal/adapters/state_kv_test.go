package adapters_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// Firings of one customer racing for the last slots of a cap — from the
// event consumer, the timer consumer, another replica — get exactly as
// many slots as the cap has, and a retry of a firing that holds a slot
// keeps it without counting twice.
func TestReserveGivesACapsSlotsOnceUnderRaces(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, time.Minute)
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Trigger(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	// Two stores over two connections, as two consumers or replicas would.
	var states []*adapters.KVState
	for range 2 {
		st, err := adapters.NewKVState(ctx, srv.JS)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	limit := app.Limit{Count: 3, Since: now.Add(-time.Hour)}

	const racers = 24
	var wg sync.WaitGroup
	granted := make(chan string, racers)
	errs := make(chan error, racers)
	for i := range racers {
		wg.Go(func() {
			id := fmt.Sprintf("firing-%02d", i)
			ok, _, err := states[i%2].Reserve(ctx, "shop", "c-1", fmt.Sprint("rule-", i%3), id, now, app.Limit{}, limit)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				granted <- id
			}
		})
	}
	wg.Wait()
	close(granted)
	close(errs)
	for err := range errs {
		t.Fatalf("Reserve: %v", err)
	}
	var winners []string
	for id := range granted {
		winners = append(winners, id)
	}
	if len(winners) != 3 {
		t.Fatalf("%d firings got a slot of a cap of 3: %v", len(winners), winners)
	}

	// A retry of a winner is let through; a newcomer is not.
	if ok, _, err := states[0].Reserve(ctx, "shop", "c-1", "rule-9", winners[0], now, app.Limit{}, limit); err != nil || !ok {
		t.Fatalf("retry of %s = %v, %v; want allowed", winners[0], ok, err)
	}
	if ok, refused, err := states[0].Reserve(ctx, "shop", "c-1", "rule-9", "late", now, app.Limit{}, limit); err != nil || ok || refused != "global" {
		t.Fatalf("a fourth firing = %v, %q, %v; want refused by the global limit", ok, refused, err)
	}
	// A released slot is free again; other customers and tenants never
	// shared it.
	if err := states[1].Release(ctx, "shop", "c-1", winners[1]); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := states[0].Reserve(ctx, "shop", "c-1", "rule-9", "late", now, app.Limit{}, limit); err != nil || !ok {
		t.Fatalf("after a release = %v, %v; want allowed", ok, err)
	}
	for _, other := range [][2]string{{"shop", "c-2"}, {"other-shop", "c-1"}} {
		if ok, _, err := states[0].Reserve(ctx, other[0], other[1], "rule-9", "first", now, app.Limit{}, limit); err != nil || !ok {
			t.Fatalf("%s/%s's first firing = %v, %v; want allowed", other[0], other[1], ok, err)
		}
	}
	// Firings before the window do not count.
	old := app.Limit{Count: 3, Since: now.Add(time.Minute)}
	if ok, _, err := states[0].Reserve(ctx, "shop", "c-1", "rule-9", "next-window", now.Add(2*time.Minute), app.Limit{}, old); err != nil || !ok {
		t.Fatalf("in a new window = %v, %v; want allowed", ok, err)
	}
	// A rule's own limit counts only its firings: rule-9 fired twice.
	once := app.Limit{Count: 2}
	if ok, refused, err := states[0].Reserve(ctx, "shop", "c-1", "rule-9", "third", now, once, app.Limit{}); err != nil || ok || refused != "rule" {
		t.Fatalf("rule-9's third firing under a limit of 2 = %v, %q, %v; want refused by the rule", ok, refused, err)
	}
	if ok, _, err := states[0].Reserve(ctx, "shop", "c-1", "rule-new", "first-of-new", now, once, app.Limit{}); err != nil || !ok {
		t.Fatalf("another rule's first firing = %v, %v; want allowed", ok, err)
	}
}
