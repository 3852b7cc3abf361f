package kpi

import (
	"fmt"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/comment"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

func day(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, time.UTC) }

// Ten NPS answers over two days (5 promoters, 3 passives, 2 detractors),
// one suppressed and one unanswered invitation, a CSAT answer in another
// tenant; then one answer changed from 0 to 10.
func TestIndexQueryByHand(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	scores := []int{9, 9, 10, 10, 10, 7, 8, 8, 0, 6}
	for i, s := range scores {
		e := Entry{Tenant: "demo", InvitationID: fmt.Sprintf("inv%d", i), SurveyID: "nps", Kind: survey.NPS, Touchpoint: fmt.Sprintf("order:%d", i),
			Sent: true, CreatedAt: day(1), Answered: true, RespondedAt: day(1 + i%2), Score: s}
		if i < 4 {
			e.Segments = []string{"vip"}
		}
		if i == 8 {
			e.Sentiment, e.Topics = comment.Negative, []string{"delivery"}
		}
		ix.Put(e)
	}
	ix.Put(Entry{Tenant: "demo", InvitationID: "sup", SurveyID: "nps", Kind: survey.NPS, Touchpoint: "order:x", Sent: false, CreatedAt: day(1)})
	ix.Put(Entry{Tenant: "demo", InvitationID: "open", SurveyID: "nps", Kind: survey.NPS, Touchpoint: "ticket:1", Sent: true, CreatedAt: day(2)})
	ix.Put(Entry{Tenant: "other", InvitationID: "o1", SurveyID: "csat-delivery", Kind: survey.CSAT, Touchpoint: "order:1", Sent: true, CreatedAt: day(1), Answered: true, RespondedAt: day(1), Score: 1})

	spec := period.Spec{Start: day(1), End: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), Granularity: period.Day, Location: time.UTC}
	res := ix.Query("demo", Filter{}, spec, 10)
	if len(res.Figures) != 2 {
		t.Fatalf("periods = %d, want 2", len(res.Figures))
	}
	tot := res.Total
	if tot.NPS.Score != 30 || tot.Responses != 10 || tot.Invitations != 11 || !near(tot.ResponseRate, 10.0/11) || tot.CSAT.Responses != 0 {
		t.Fatalf("total = %+v", tot)
	}
	if res.Figures[0].Responses != 5 || res.Figures[1].Responses != 5 || res.Figures[0].Invitations != 10 || res.Figures[1].Invitations != 1 {
		t.Fatalf("trend = %+v / %+v", res.Figures[0], res.Figures[1])
	}
	if tot.Sentiment.Negative != 1 || len(tot.TopTopics) != 1 || tot.TopTopics[0].Topic != "delivery" {
		t.Fatalf("comments = %+v %+v", tot.Sentiment, tot.TopTopics)
	}
	if got := ix.Query("demo", Filter{Segment: "vip"}, spec, 10).Total.NPS; got.Responses != 4 || got.Promoters != 4 {
		t.Fatalf("vip cut = %+v", got)
	}
	if got := ix.Query("demo", Filter{Touchpoint: "ticket"}, spec, 10).Total; got.Invitations != 1 || got.Responses != 0 {
		t.Fatalf("ticket cut = %+v", got)
	}
	if got := ix.Query("demo", Filter{Touchpoint: "order:3"}, spec, 10).Total; got.Responses != 1 {
		t.Fatalf("order:3 cut = %+v", got)
	}
	if got := ix.Query("demo", Filter{SurveyID: "csat-delivery"}, spec, 10).Total; got.Responses != 0 {
		t.Fatalf("the other tenant's survey leaked: %+v", got)
	}
	if got := ix.Query("other", Filter{}, spec, 10).Total; got.CSAT.Responses != 1 || got.NPS.Responses != 0 {
		t.Fatalf("other tenant = %+v", got)
	}

	// The detractor who scored 0 changes to 10: still ten answers, NPS 50.
	ix.Put(Entry{Tenant: "demo", InvitationID: "inv8", SurveyID: "nps", Kind: survey.NPS, Touchpoint: "order:8", Sent: true, CreatedAt: day(1), Answered: true, RespondedAt: day(1), Score: 10})
	if got := ix.Query("demo", Filter{}, spec, 10).Total; got.NPS.Responses != 10 || got.NPS.Score != 50 {
		t.Fatalf("after the change: %+v", got.NPS)
	}
}

func TestIndexCESAgreementAndJalali(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	tehran, _ := time.LoadLocation("Asia/Tehran")
	// 1405-01-01 (Nowruz) is 2026-03-21 in Tehran; an answer at 23:00 UTC
	// on 2026-03-20 is already Nowruz there.
	ix.Put(Entry{Tenant: "demo", InvitationID: "a", SurveyID: "ces-support", Kind: survey.CES, Agreement: true, Touchpoint: "ticket:1", Sent: true,
		CreatedAt: time.Date(2026, 3, 20, 23, 0, 0, 0, time.UTC), Answered: true, RespondedAt: time.Date(2026, 3, 20, 23, 0, 0, 0, time.UTC), Score: 5})
	spec := period.Spec{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, tehran), End: time.Date(2026, 4, 15, 0, 0, 0, 0, tehran), Granularity: period.Month, Calendar: period.Jalali, Location: tehran}
	res := ix.Query("demo", Filter{Kind: survey.CES}, spec, 10)
	if len(res.Periods) != 2 || res.Periods[1].Label != "1405-01" {
		t.Fatalf("periods = %+v", res.Periods)
	}
	if c := res.Figures[1].CES; c.Responses != 1 || c.MeanEffort != 1 || c.AgreementResponses != 1 || c.LowEffort != 1 {
		t.Fatalf("Farvardin CES = %+v (agreement 5 is effort 1)", c)
	}
}
