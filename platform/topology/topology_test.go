package topology_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
)

func TestCheckServerNamesTheVersionNeeded(t *testing.T) {
	t.Parallel()
	schedules := topology.Set{Streams: []jetstream.StreamConfig{{Name: "TIMERS", AllowMsgSchedules: true}}}
	cases := []struct {
		name    string
		set     topology.Set
		server  string
		wantErr string
	}{
		{"journey on the pinned server", topology.Ingest(topology.Options{}), "2.15.2", ""},
		{"journey on 2.9 lacks stream metadata", topology.Ingest(topology.Options{}), "2.9.25", "needs nats-server 2.10.0 or newer"},
		{"schedules on 2.11", schedules, "2.11.4", "message schedules (TIMERS) needs nats-server 2.12.0 or newer"},
		{"schedules on 2.12", schedules, "2.12.0", ""},
		{"pre-release suffix", schedules, "2.14.0-RC.1", ""},
		{"garbage version", schedules, "two", "not major.minor.patch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.set.CheckServer(tc.server)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckServer(%s) = %v, want nil", tc.server, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckServer(%s) = %v, want error containing %q", tc.server, err, tc.wantErr)
			}
		})
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := context.Background()
	set := topology.Ingest(topology.Options{DuplicateWindow: time.Minute})
	for i := 0; i < 2; i++ {
		if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
			t.Fatalf("Ensure run %d: %v", i+1, err)
		}
	}
	s, err := srv.JS.Stream(ctx, topology.Journey)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != time.Minute || info.Config.Storage != jetstream.FileStorage {
		t.Fatalf("JOURNEY config = dup %v storage %v, want 1m file", info.Config.Duplicates, info.Config.Storage)
	}
	if got := info.Config.Subjects; len(got) != 1 || got[0] != "cx.*.journey.>" {
		t.Fatalf("JOURNEY subjects = %v", got)
	}
}

func TestTriggerTopologyOnThePinnedServer(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := context.Background()
	set := topology.Trigger(topology.Options{})
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := set.CheckServer("2.11.9"); err == nil || !strings.Contains(err.Error(), "message schedules (TRIGGER_TIMERS) needs nats-server 2.12.0") {
		t.Fatalf("CheckServer(2.11.9) = %v, want the schedules requirement named", err)
	}
	wq, err := srv.JS.Stream(ctx, topology.NotificationRequests)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := wq.Info(ctx); info.Config.Retention != jetstream.WorkQueuePolicy {
		t.Fatalf("NOTIFICATION_REQUESTS retention = %v, want work queue", info.Config.Retention)
	}
}
