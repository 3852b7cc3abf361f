package kpi

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Hand-computed: 10 NPS answers, 5 promoters (9, 9, 10, 10, 10), 3
// passives (7, 8, 8), 2 detractors (0, 6): 50% − 20% = NPS 30.
func TestNPSByHand(t *testing.T) {
	t.Parallel()
	var ta Tally
	for _, s := range []int{9, 9, 10, 10, 10, 7, 8, 8, 0, 6} {
		ta.NPS[s]++
	}
	n := ta.Figures(nil, 10).NPS
	if n.Responses != 10 || n.Promoters != 5 || n.Passives != 3 || n.Detractors != 2 || n.Score != 30 ||
		!near(n.PromoterShare, 0.5) || !near(n.PassiveShare, 0.3) || !near(n.DetractorShare, 0.2) {
		t.Fatalf("NPS = %+v, want 10/5/3/2 and 30", n)
	}
	var none Tally
	if f := none.Figures(nil, 10); f.NPS.Score != 0 || f.ResponseRate != 0 || f.CSAT.Mean != 0 {
		t.Fatalf("empty tally must give zeros, got %+v", f)
	}
}

// CSAT 5, 4, 4, 3, 1: mean 17/5 = 3.4, 3 of 5 satisfied = 0.6. CES efforts
// 1, 2, 2, 5 (one of them agreement 4 → effort 2): mean 2.5, 3 of 4 low.
func TestCSATAndCESByHand(t *testing.T) {
	t.Parallel()
	var ta Tally
	for _, s := range []int{5, 4, 4, 3, 1} {
		ta.CSAT[s-1]++
	}
	for _, e := range []int{1, 2, 2, 5} {
		ta.CES[e-1]++
	}
	ta.CESAgreement = 1
	ta.Invitations, ta.Answered, ta.Responses = 12, 9, 9
	f := ta.Figures(nil, 10)
	if f.CSAT.Responses != 5 || !near(f.CSAT.Mean, 3.4) || f.CSAT.Satisfied != 3 || !near(f.CSAT.SatisfiedShare, 0.6) {
		t.Fatalf("CSAT = %+v", f.CSAT)
	}
	if f.CES.Responses != 4 || !near(f.CES.MeanEffort, 2.5) || f.CES.LowEffort != 3 || !near(f.CES.LowEffortShare, 0.75) || f.CES.AgreementResponses != 1 {
		t.Fatalf("CES = %+v", f.CES)
	}
	if !near(f.ResponseRate, 0.75) {
		t.Fatalf("response rate = %v, want 9/12", f.ResponseRate)
	}
}

func TestSentimentAndTopTopics(t *testing.T) {
	t.Parallel()
	ta := Tally{Sentiment: [3]int64{1, 1, 2}, Topics: []TopicTally{{3, 2}, {0, 0}, {3, 0}, {1, 1}}}
	f := ta.Figures([]string{"delivery", "payment", "price", "quality"}, 2)
	if f.Sentiment.Comments != 4 || !near(f.Sentiment.NegativeShare, 0.5) || !near(f.Sentiment.PositiveShare, 0.25) {
		t.Fatalf("sentiment = %+v", f.Sentiment)
	}
	if len(f.TopTopics) != 2 || f.TopTopics[0].Topic != "delivery" || f.TopTopics[1].Topic != "price" || f.TopTopics[0].Negative != 2 {
		t.Fatalf("top topics = %+v", f.TopTopics)
	}
}
