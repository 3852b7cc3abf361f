package ports_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/services/survey/internal/adapters"
	"github.com/bazgasht/bazgasht/services/survey/internal/service"
)

// A restarted service rebuilds its KPI index from the durable store and
// gives the same figures; an answer a crash left stored but unpublished
// is published at start-up, once.
func TestRestartRebuildsKPIsAndPublishesWhatWasLeft(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, id := range []string{"c-r1", "c-r2", "c-r3"} {
		_, v := invite(t, e, id, "en", "nps")
		if code, _ := pageGet(t, v["score_url_"+[]string{"10", "7", "2"}[i]], ""); code != 200 {
			t.Fatalf("answer %d = %d", i, code)
		}
	}
	period := &reportv1.Period{StartTime: timestamppb.New(time.Now().Add(-time.Hour)), EndTime: timestamppb.New(time.Now().Add(time.Hour)),
		Granularity: reportv1.Granularity_GRANULARITY_DAY}
	var before *surveyv1.GetScoreKPIsResponse
	poll.Until(t, 5*time.Second, "three answers in the KPIs", func() bool {
		var err error
		before, err = e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: period})
		return err == nil && before.GetTotal().GetResponses() == 3
	})

	// A crash between storing an answer and publishing it: the stored
	// record says revision 2 and published 1.
	id, v4 := invite(t, e, "c-r4", "en", "nps")
	if code, _ := pageGet(t, v4["score_url_9"], ""); code != 200 {
		t.Fatal("answer c-r4")
	}
	store, err := adapters.NewInvitationKVStore(ctx, e.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	inv, rev, err := store.Get(ctx, "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	inv.Answer.Score, inv.Answer.Comment, inv.Answer.Revision, inv.Answer.Changed = 8, "changed my mind", 2, true
	if _, err := store.Update(ctx, inv, rev); err != nil {
		t.Fatal(err)
	}

	cfg := service.Config{Workers: 32, PublicURL: e.page.URL, LinkKey: testKey, LinkTTL: time.Hour, FatiguePeriod: time.Hour, DefaultLocale: "fa",
		ProfileAddr: "127.0.0.1:1", ProfileTimeout: time.Second, StoreTimeout: 5 * time.Second}
	again, err := service.NewApplication(ctx, cfg, e.nats.NC, e.nats.JS, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = again.WatchIndex(wctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-again.Ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the rebuilt index did not load")
	}
	poll.Until(t, 10*time.Second, "the left-over answer published", func() bool {
		for _, ev := range e.journey(t, "demo", "survey.responded") {
			if ev.GetId() == id+":answer:2" && ev.GetSurveyResponded().GetScore() == 8 && ev.GetCustomer().GetCustomerId() == "c-r4" {
				return true
			}
		}
		return false
	})
	after, err := again.GRPC.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: period})
	if err != nil {
		t.Fatal(err)
	}
	// The three answers as before, plus c-r4's latest (8, a passive).
	if n := after.GetTotal().GetNps(); n.GetResponses() != 4 || n.GetPromoters() != before.GetTotal().GetNps().GetPromoters() ||
		n.GetPassives() != before.GetTotal().GetNps().GetPassives()+1 || n.GetDetractors() != before.GetTotal().GetNps().GetDetractors() {
		t.Fatalf("rebuilt NPS = %v, before %v", n, before.GetTotal().GetNps())
	}
	poll.Until(t, 5*time.Second, "the record marked published", func() bool {
		inv, _, err := store.Get(ctx, "demo", id)
		return err == nil && inv.Answer.Published == 2
	})
}
