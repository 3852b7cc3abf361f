package topology_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
)

func TestNotificationTopologyBesideTrigger(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := context.Background()
	set := topology.Notification(topology.Options{}, topology.NotificationOptions{AckWait: 3 * time.Second})
	// Both services declare NOTIFICATION_REQUESTS; either may start first,
	// and each start again must leave the other's declarations intact.
	for _, s := range []topology.Set{set, topology.Trigger(topology.Options{}), set} {
		if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), s); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	c, err := srv.JS.Consumer(ctx, topology.NotificationRequests, topology.NotificationConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.AckWait != 3*time.Second || info.Config.MaxDeliver != -1 || info.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatalf("consumer config = ack wait %v, max deliver %d, ack policy %v; want 3s, unlimited, explicit",
			info.Config.AckWait, info.Config.MaxDeliver, info.Config.AckPolicy)
	}
	dc, err := srv.JS.Consumer(ctx, topology.NotificationDeferred, topology.NotificationDeferredConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if dinfo, err := dc.Info(ctx); err != nil || dinfo.Config.MaxAckPending < 100_000 || dinfo.Config.AckWait != 3*time.Second {
		t.Fatalf("deferred consumer = %+v, %v; want room for a night's held messages", dinfo, err)
	}
	ledger, err := srv.JS.KeyValue(ctx, topology.NotificationLedger)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 90*24*time.Hour {
		t.Fatalf("ledger TTL = %v, want the 90-day default", st.TTL())
	}
	// The ledger's claim is a create: the second claimant loses.
	if _, err := ledger.Create(ctx, "demo.n1", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Create(ctx, "demo.n1", []byte("b")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("second Create = %v, want ErrKeyExists", err)
	}
	for _, b := range []string{topology.NotificationTemplates, topology.NotificationCaps, topology.NotificationUnsubscribes} {
		if _, err := srv.JS.KeyValue(ctx, b); err != nil {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
}
