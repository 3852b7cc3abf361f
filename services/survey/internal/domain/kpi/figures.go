// Package kpi computes survey KPIs — NPS, CSAT, CES, response rate,
// sentiment shares and top topics — from score histograms, and keeps the
// in-memory index of every tenant's invitations that GetScoreKPIs scans.
package kpi

import (
	"cmp"
	"slices"
)

// Tally is the raw counts of one period; every figure is derived from it.
type Tally struct {
	// Invitations sent (not suppressed) in the period.
	Invitations int64
	// Answered is how many of those invitations were answered, whenever.
	Answered int64
	// Responses given in the period, counted once per invitation however
	// often the answer changed.
	Responses int64
	// NPS[s] counts NPS answers of score s.
	NPS [11]int64
	// CSAT[s-1] counts CSAT answers of score s.
	CSAT [5]int64
	// CES[e-1] counts CES answers of effort e (agreement converted).
	CES [5]int64
	// CESAgreement counts CES answers given in the agree/disagree form.
	CESAgreement int64
	// Sentiment counts comments by tone: [positive, neutral, negative].
	Sentiment [3]int64
	// Topics counts comments per topic: [i] for the i-th of TopicNames.
	Topics []TopicTally
}

// TopicTally counts one topic's comments.
type TopicTally struct{ Comments, Negative int64 }

// Add adds o into t.
func (t *Tally) Add(o *Tally) {
	t.Invitations += o.Invitations
	t.Answered += o.Answered
	t.Responses += o.Responses
	for i := range t.NPS {
		t.NPS[i] += o.NPS[i]
	}
	for i := range t.CSAT {
		t.CSAT[i] += o.CSAT[i]
		t.CES[i] += o.CES[i]
	}
	t.CESAgreement += o.CESAgreement
	for i := range t.Sentiment {
		t.Sentiment[i] += o.Sentiment[i]
	}
	if len(t.Topics) < len(o.Topics) {
		t.Topics = append(t.Topics, make([]TopicTally, len(o.Topics)-len(t.Topics))...)
	}
	for i, tt := range o.Topics {
		t.Topics[i].Comments += tt.Comments
		t.Topics[i].Negative += tt.Negative
	}
}

// NPSFigures are a period's NPS figures.
type NPSFigures struct {
	Responses, Promoters, Passives, Detractors  int64
	PromoterShare, PassiveShare, DetractorShare float64
	// Score is 100 × (promoter share − detractor share), -100 to 100.
	Score float64
}

// CSATFigures are a period's CSAT figures.
type CSATFigures struct {
	Responses, Satisfied int64
	Mean, SatisfiedShare float64
}

// CESFigures are a period's CES figures on the effort scale.
type CESFigures struct {
	Responses, AgreementResponses, LowEffort int64
	MeanEffort, LowEffortShare               float64
}

// SentimentFigures are a period's comment tones.
type SentimentFigures struct {
	Comments, Positive, Neutral, Negative      int64
	PositiveShare, NeutralShare, NegativeShare float64
}

// TopicFigure is how often a topic came up.
type TopicFigure struct {
	Topic              string
	Comments, Negative int64
}

// Figures are the KPIs of one period.
type Figures struct {
	Invitations, Responses int64
	ResponseRate           float64
	NPS                    NPSFigures
	CSAT                   CSATFigures
	CES                    CESFigures
	Sentiment              SentimentFigures
	TopTopics              []TopicFigure
}

func share(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Figures derives the KPIs from t; names are the topic names by index,
// topN how many top topics to keep.
func (t *Tally) Figures(names []string, topN int) Figures {
	f := Figures{Invitations: t.Invitations, Responses: t.Responses, ResponseRate: share(t.Answered, t.Invitations)}
	n := &f.NPS
	for s, c := range t.NPS {
		n.Responses += c
		switch {
		case s >= 9:
			n.Promoters += c
		case s >= 7:
			n.Passives += c
		default:
			n.Detractors += c
		}
	}
	n.PromoterShare, n.PassiveShare, n.DetractorShare = share(n.Promoters, n.Responses), share(n.Passives, n.Responses), share(n.Detractors, n.Responses)
	if n.Responses > 0 {
		// Integer arithmetic first: 5 promoters and 2 detractors of 10 is
		// exactly 30, not 29.999999999999996.
		n.Score = float64(100*(n.Promoters-n.Detractors)) / float64(n.Responses)
	}
	var sum int64
	for i, c := range t.CSAT {
		f.CSAT.Responses += c
		sum += int64(i+1) * c
		if i >= 3 {
			f.CSAT.Satisfied += c
		}
	}
	f.CSAT.Mean, f.CSAT.SatisfiedShare = share(sum, f.CSAT.Responses), share(f.CSAT.Satisfied, f.CSAT.Responses)
	sum = 0
	for i, c := range t.CES {
		f.CES.Responses += c
		sum += int64(i+1) * c
		if i <= 1 {
			f.CES.LowEffort += c
		}
	}
	f.CES.AgreementResponses = t.CESAgreement
	f.CES.MeanEffort, f.CES.LowEffortShare = share(sum, f.CES.Responses), share(f.CES.LowEffort, f.CES.Responses)
	s := &f.Sentiment
	s.Positive, s.Neutral, s.Negative = t.Sentiment[0], t.Sentiment[1], t.Sentiment[2]
	s.Comments = s.Positive + s.Neutral + s.Negative
	s.PositiveShare, s.NeutralShare, s.NegativeShare = share(s.Positive, s.Comments), share(s.Neutral, s.Comments), share(s.Negative, s.Comments)
	for i, tt := range t.Topics {
		if tt.Comments > 0 && i < len(names) {
			f.TopTopics = append(f.TopTopics, TopicFigure{Topic: names[i], Comments: tt.Comments, Negative: tt.Negative})
		}
	}
	slices.SortFunc(f.TopTopics, func(a, b TopicFigure) int {
		return cmp.Or(cmp.Compare(b.Comments, a.Comments), cmp.Compare(a.Topic, b.Topic))
	})
	if len(f.TopTopics) > topN {
		f.TopTopics = f.TopTopics[:topN]
	}
	return f
}
