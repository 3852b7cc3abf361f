package kpi

import (
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/comment"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Entry is what the index keeps of one invitation and its latest answer.
type Entry struct {
	Tenant, InvitationID, SurveyID string
	Kind                           survey.Kind
	// Agreement is set for CES in the agree/disagree form.
	Agreement  bool
	Touchpoint string
	// Sent is false for a suppressed invitation: it counts nowhere.
	Sent      bool
	CreatedAt time.Time
	// Answered is false until the first answer.
	Answered    bool
	RespondedAt time.Time
	// Score as asked; the index converts agreement to effort.
	Score     int
	Sentiment comment.Sentiment
	Topics    []string
	// Segments of the customer at answer time, or at invitation time
	// while unanswered.
	Segments []string
}

// record is an Entry packed into 40 bytes, with names interned per tenant:
// a million answers take 40 MB and a scan over them a few milliseconds.
type record struct {
	created, responded int64 // unix seconds; responded 0 when unanswered
	segments           uint64
	touchpoint         uint32
	survey, tpKind     uint16
	topics             uint16
	kind, score        uint8 // score on the effort scale for CES
	sentiment          uint8
	flags              uint8
}

const (
	flagSent = 1 << iota
	flagAgreement
)

// MaxSegments is how many distinct segment names a tenant's index tells
// apart; further names are not available as a KPI cut.
const MaxSegments = 64

type interner[T ~uint16 | ~uint32 | ~uint8] struct {
	ids   map[string]T
	names []string
}

func (in *interner[T]) id(name string) T {
	if id, ok := in.ids[name]; ok {
		return id
	}
	if in.ids == nil {
		in.ids = map[string]T{}
	}
	id := T(len(in.names))
	in.ids[name] = id
	in.names = append(in.names, name)
	return id
}

type tenantIndex struct {
	mu          sync.RWMutex
	recs        []record
	byID        map[[16]byte]int32
	surveys     interner[uint16]
	touchpoints interner[uint32]
	tpKinds     interner[uint16]
	segments    interner[uint8]
}

// Index holds every tenant's invitations for KPI queries. It is a view:
// the service rebuilds it from the durable store at start and keeps it up
// to date from the store's change feed, so every replica converges.
type Index struct {
	mu      sync.RWMutex
	tenants map[string]*tenantIndex
	topics  []string
	topicID map[string]int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{tenants: map[string]*tenantIndex{}, topics: comment.Topics(), topicID: map[string]int{}}
	for i, t := range ix.topics {
		ix.topicID[t] = i
	}
	return ix
}

// key is a 128-bit FNV-1a hash of an invitation id: half the memory of
// the id as a map key, with no realistic chance of two ids colliding.
func key(id string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(id))
	var k [16]byte
	h.Sum(k[:0])
	return k
}

func (ix *Index) tenant(name string, create bool) *tenantIndex {
	ix.mu.RLock()
	t := ix.tenants[name]
	ix.mu.RUnlock()
	if t != nil || !create {
		return t
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if t = ix.tenants[name]; t == nil {
		t = &tenantIndex{byID: map[[16]byte]int32{}}
		ix.tenants[name] = t
	}
	return t
}

// Put adds an invitation or replaces what the index held for it: an
// answer changed later counts once, with its latest score.
func (ix *Index) Put(e Entry) {
	t := ix.tenant(e.Tenant, true)
	t.mu.Lock()
	defer t.mu.Unlock()
	r := record{created: e.CreatedAt.Unix(), kind: uint8(e.Kind)}
	r.survey = t.surveys.id(e.SurveyID)
	r.touchpoint = t.touchpoints.id(e.Touchpoint)
	tk, _, _ := strings.Cut(e.Touchpoint, ":")
	r.tpKind = t.tpKinds.id(tk)
	if e.Sent {
		r.flags |= flagSent
	}
	if e.Agreement {
		r.flags |= flagAgreement
	}
	for _, s := range e.Segments {
		if _, known := t.segments.ids[s]; known || len(t.segments.names) < MaxSegments {
			r.segments |= 1 << t.segments.id(s)
		}
	}
	if e.Answered {
		r.responded = max(e.RespondedAt.Unix(), 1)
		r.score = uint8(e.Score)
		if e.Kind == survey.CES && e.Agreement {
			r.score = uint8(6 - e.Score)
		}
		r.sentiment = uint8(e.Sentiment)
		for _, tp := range e.Topics {
			if i, ok := ix.topicID[tp]; ok && i < 16 {
				r.topics |= 1 << i
			}
		}
	}
	k := key(e.InvitationID)
	if i, ok := t.byID[k]; ok {
		t.recs[i] = r
		return
	}
	t.byID[k] = int32(len(t.recs))
	t.recs = append(t.recs, r)
}

// Len is how many invitations the index holds for tenant.
func (ix *Index) Len(tenant string) int {
	t := ix.tenant(tenant, false)
	if t == nil {
		return 0
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.recs)
}

// Filter narrows a query; zero values match everything.
type Filter struct {
	SurveyID string
	Kind     survey.Kind
	// Touchpoint is a whole one ("order:1001") or a kind ("order").
	Touchpoint string
	Segment    string
}

// Result is a query's answer: one Figures per period, and the total.
type Result struct {
	Periods     []period.Bounds
	Figures     []Figures
	Total       Figures
	TotalBounds period.Bounds
}

// Query computes the KPIs of tenant's invitations and answers in spec's
// periods: invitations count in the period they were made, answers in the
// period they were first given.
func (ix *Index) Query(tenant string, f Filter, spec period.Spec, topN int) Result {
	ps := spec.Periods()
	res := Result{Periods: ps, TotalBounds: spec.Total()}
	tallies := make([]Tally, len(ps))
	for i := range tallies {
		tallies[i].Topics = make([]TopicTally, len(ix.topics))
	}
	if t := ix.tenant(tenant, false); t != nil && len(ps) > 0 {
		t.scan(f, ps, tallies)
	}
	total := Tally{Topics: make([]TopicTally, len(ix.topics))}
	for i := range tallies {
		res.Figures = append(res.Figures, tallies[i].Figures(ix.topics, topN))
		total.Add(&tallies[i])
	}
	res.Total = total.Figures(ix.topics, topN)
	return res
}

func (t *tenantIndex) scan(f Filter, ps []period.Bounds, tallies []Tally) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var (
		surveyID, tp, tpKind uint32
		segBit               uint64
		bySurvey, byTP       = f.SurveyID != "", f.Touchpoint != ""
		byKind, byTPKind     = f.Kind != 0, false
	)
	if bySurvey {
		id, ok := t.surveys.ids[f.SurveyID]
		if !ok {
			return
		}
		surveyID = uint32(id)
	}
	if byTP {
		if strings.Contains(f.Touchpoint, ":") {
			id, ok := t.touchpoints.ids[f.Touchpoint]
			if !ok {
				return
			}
			tp = id
		} else {
			id, ok := t.tpKinds.ids[f.Touchpoint]
			if !ok {
				return
			}
			tpKind, byTP, byTPKind = uint32(id), false, true
		}
	}
	if f.Segment != "" {
		id, ok := t.segments.ids[f.Segment]
		if !ok {
			return
		}
		segBit = 1 << id
	}
	edges := make([]int64, len(ps)+1)
	for i, b := range ps {
		edges[i] = b.Start.Unix()
	}
	edges[len(ps)] = ps[len(ps)-1].End.Unix()
	lo, hi := edges[0], edges[len(ps)]
	locate := func(s int64) int {
		i, found := slices.BinarySearch(edges, s)
		if found {
			return i
		}
		return i - 1
	}
	for i := range t.recs {
		r := &t.recs[i]
		if bySurvey && uint32(r.survey) != surveyID || byKind && r.kind != uint8(f.Kind) ||
			byTP && r.touchpoint != tp || byTPKind && uint32(r.tpKind) != tpKind || segBit != 0 && r.segments&segBit == 0 {
			continue
		}
		if r.flags&flagSent != 0 && r.created >= lo && r.created < hi {
			ta := &tallies[locate(r.created)]
			ta.Invitations++
			if r.responded != 0 {
				ta.Answered++
			}
		}
		if r.responded == 0 || r.responded < lo || r.responded >= hi {
			continue
		}
		ta := &tallies[locate(r.responded)]
		ta.Responses++
		switch survey.Kind(r.kind) {
		case survey.NPS:
			if r.score <= 10 {
				ta.NPS[r.score]++
			}
		case survey.CSAT:
			if r.score >= 1 && r.score <= 5 {
				ta.CSAT[r.score-1]++
			}
		case survey.CES:
			if r.score >= 1 && r.score <= 5 {
				ta.CES[r.score-1]++
			}
			if r.flags&flagAgreement != 0 {
				ta.CESAgreement++
			}
		}
		if s := comment.Sentiment(r.sentiment); s >= comment.Positive && s <= comment.Negative {
			ta.Sentiment[s-comment.Positive]++
			for m, j := r.topics, 0; m != 0; m, j = m>>1, j+1 {
				if m&1 != 0 {
					ta.Topics[j].Comments++
					if s == comment.Negative {
						ta.Topics[j].Negative++
					}
				}
			}
		}
	}
}
