package adapters_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// A completion whose task.completed event could not be published (the
// JOURNEY stream is gone for a while) is not lost: the task stays done,
// calling Complete again announces it, and AnnounceOutstanding announces
// what nobody retried — each event once; a completion announced before is
// not announced again.
func TestCompletionsLostToAFailedPublishAreAnnouncedLater(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, time.Minute)
	set := topology.Trigger(topology.Options{})
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatal(err)
	}
	store, err := adapters.NewTaskKVStore(ctx, srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := journeystream.NewPublisher(srv.NC, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	events, err := adapters.NewTaskEvents(pub)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := app.NewTasks(store, store, events, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	announced := func() uint64 {
		t.Helper()
		s, err := srv.JS.Stream(ctx, topology.Journey)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("cx.shop.journey.task.completed"))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects["cx.shop.journey.task.completed"]
	}

	early := seedTask(t, ctx, store, "shop", "early", task.High, time.Hour)
	if _, err := tasks.Complete(ctx, "shop", early.ID, "agent-1", "called back"); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	retried := seedTask(t, ctx, store, "shop", "retried", task.High, time.Hour)
	forgotten := seedTask(t, ctx, store, "shop", "forgotten", task.High, time.Hour)

	if err := srv.JS.DeleteStream(ctx, topology.Journey); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*task.Task{retried, forgotten} {
		if _, err := tasks.Complete(ctx, "shop", tk.ID, "agent-1", "refunded"); !errors.Is(err, app.ErrNotAnnounced) {
			t.Fatalf("Complete(%s) with JOURNEY gone = %v, want ErrNotAnnounced", tk.RuleID, err)
		}
		if got, err := store.Get(ctx, "shop", tk.ID); err != nil || got.State != task.Done {
			t.Fatalf("task %s = %+v, %v; want done", tk.RuleID, got, err)
		}
	}
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatal(err)
	}

	// The agent retries one; the other waits for the sweep.
	if _, err := tasks.Complete(ctx, "shop", retried.ID, "agent-1", "refunded"); err != nil {
		t.Fatalf("Complete again: %v", err)
	}
	if n := announced(); n != 1 {
		t.Fatalf("%d task.completed events after the retry, want 1", n)
	}
	n, err := tasks.AnnounceOutstanding(ctx, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("AnnounceOutstanding = %d, %v; want the forgotten one", n, err)
	}
	if n := announced(); n != 2 {
		t.Fatalf("%d task.completed events after the sweep, want 2", n)
	}
	// Nothing is outstanding; completing done tasks again announces nothing.
	if n, err := tasks.AnnounceOutstanding(ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want 0", n, err)
	}
	for _, tk := range []*task.Task{early, retried, forgotten} {
		if _, err := tasks.Complete(ctx, "shop", tk.ID, "agent-1", "again"); err != nil {
			t.Fatalf("Complete(%s) a done task: %v", tk.RuleID, err)
		}
	}
	if n := announced(); n != 2 {
		t.Fatalf("%d task.completed events after completing done tasks again, want still 2", n)
	}
	if held, err := store.Outstanding(ctx); err != nil || len(held) != 0 {
		t.Fatalf("outbox = %v, %v; want empty", held, err)
	}
}
