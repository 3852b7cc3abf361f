package topology_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
)

// The survey and trigger services both declare the invitation work queue;
// whichever starts first, the other's Ensure must agree with it, and the
// survey consumer must take what the trigger service puts there.
func TestSurveyTopologyBesideTrigger(t *testing.T) {
	t.Parallel()
	orders := map[string][]topology.Set{
		"survey first":  {topology.Survey(topology.Options{}), topology.Trigger(topology.Options{})},
		"trigger first": {topology.Trigger(topology.Options{}), topology.Survey(topology.Options{})},
	}
	for name, sets := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := natstest.Start(t)
			ctx := natstest.Context(t, 20*time.Second)
			for _, s := range append(sets, sets...) {
				if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), s); err != nil {
					t.Fatalf("Ensure: %v", err)
				}
			}
			for _, b := range []string{topology.SurveysBucket, topology.SurveyResponsesBucket, topology.SurveyFatigueBucket} {
				if _, err := srv.JS.KeyValue(ctx, b); err != nil {
					t.Fatalf("bucket %s: %v", b, err)
				}
			}
			if _, err := srv.JS.Publish(ctx, "cx.demo.survey.invite", []byte("x")); err != nil {
				t.Fatalf("publish invite: %v", err)
			}
			c, err := srv.JS.Consumer(ctx, topology.SurveyInvitations, topology.SurveyConsumer)
			if err != nil {
				t.Fatalf("consumer: %v", err)
			}
			batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for m := range batch.Messages() {
				got++
				if string(m.Data()) != "x" || m.Subject() != "cx.demo.survey.invite" {
					t.Fatalf("got %s %q", m.Subject(), m.Data())
				}
				_ = m.Ack()
			}
			if got != 1 {
				t.Fatalf("survey consumer got %d invitation requests, want 1", got)
			}
		})
	}
}

func TestSurveyFatigueRecordsOutliveThePeriod(t *testing.T) {
	t.Parallel()
	s := topology.Survey(topology.Options{Replicas: 3})
	for _, kv := range s.KeyValues {
		if kv.Replicas != 3 {
			t.Fatalf("bucket %s replicas = %d, want 3", kv.Bucket, kv.Replicas)
		}
		if kv.Bucket == topology.SurveyFatigueBucket && kv.TTL < 365*24*time.Hour {
			t.Fatalf("fatigue TTL %v is shorter than a year", kv.TTL)
		}
	}
}
