package ports_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/comment"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
	"github.com/bazgasht/bazgasht/services/survey/internal/service"
)

// BenchmarkResponsePage loads the response page on a real listener at a
// steady 500 requests a second from a pacing goroutine, and reports the
// latency percentiles and the rate achieved. Each iteration is 1,000
// requests (two seconds). "question" is the plain link (token check,
// invitation read from JetStream KV, render); "one-tap-again" is a score
// link already recorded (what a reload or a mail scanner does: the
// answer is read and found unchanged, the comment page rendered).
func BenchmarkResponsePage(b *testing.B) {
	e := newEnv(b)
	e.customer(b, "demo", "c-bench", "bench@example.com", "", "fa")
	if _, err := e.client.Invite(context.Background(), &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps",
		Customer: &journeyv1.Customer{CustomerId: "c-bench"}, Touchpoint: "order:bench"}); err != nil {
		b.Fatal(err)
	}
	vars := e.sendRequests(b, "demo")[0].GetVariables()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 5 * time.Second}
	get := func(url string) (time.Duration, error) {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	for name, url := range map[string]string{"question": vars["survey_url"], "one-tap-again": vars["score_url_9"]} {
		b.Run(name, func(b *testing.B) {
			for range 50 { // warm the connections and the read path; records the tap once
				if _, err := get(url); err != nil {
					b.Fatal(err)
				}
			}
			const rate, perIter = 500, 1000
			var lat []time.Duration
			var errs, sent int
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				tick := time.NewTicker(time.Second / rate)
				var wg sync.WaitGroup
				for range perIter {
					<-tick.C
					sent++
					wg.Add(1)
					go func() {
						defer wg.Done()
						d, err := get(url)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs++
							return
						}
						lat = append(lat, d)
					}()
				}
				tick.Stop()
				wg.Wait()
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if errs > 0 {
				b.Fatalf("%d of %d requests failed", errs, sent)
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "req/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkGetScoreKPIs builds the KPI index from 1,000,000 generated
// answers over a year (three surveys, order and ticket touchpoints, four
// segments, a third with comments), then times GetScoreKPIs for the whole
// year by Jalali month in Asia/Tehran, and a cut by survey, touchpoint
// kind and segment by day.
func BenchmarkGetScoreKPIs(b *testing.B) {
	srv := natstest.Start(b)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Survey(topology.Options{})); err != nil {
		b.Fatal(err)
	}
	cfg := service.Config{Workers: 32, PublicURL: "http://127.0.0.1:8083", LinkKey: testKey, LinkTTL: time.Hour, FatiguePeriod: time.Hour, DefaultLocale: "fa",
		ProfileAddr: "127.0.0.1:1", ProfileTimeout: time.Second, StoreTimeout: time.Second}
	s, err := service.NewApplication(ctx, cfg, srv.NC, srv.JS, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 1_000_000
	start := time.Date(2025, 3, 21, 0, 0, 0, 0, time.UTC)
	surveys := []struct {
		id   string
		kind survey.Kind
		tp   string
	}{{"nps", survey.NPS, "order"}, {"csat-delivery", survey.CSAT, "order"}, {"ces-support", survey.CES, "ticket"}}
	segs := [][]string{{"vip"}, {"at_risk"}, {"new", "vip"}, nil}
	topics := comment.Topics()
	built := time.Now()
	for i := range n {
		sv := surveys[i%3]
		at := start.Add(time.Duration(i) * (365 * 24 * time.Hour / n))
		e := kpi.Entry{Tenant: "demo", InvitationID: fmt.Sprintf("%024x", i), SurveyID: sv.id, Kind: sv.kind, Agreement: sv.kind == survey.CES,
			Touchpoint: fmt.Sprintf("%s:%d", sv.tp, i), Sent: true, CreatedAt: at, Answered: i%10 != 0, RespondedAt: at.Add(time.Hour), Segments: segs[i%4]}
		lo, hi := sv.kind.Scale()
		e.Score = lo + i%(hi-lo+1)
		if i%3 == 0 {
			e.Sentiment, e.Topics = comment.Sentiment(1+i%3), []string{topics[i%len(topics)]}
		}
		s.Index.Put(e)
	}
	b.Logf("index of %d invitations built in %v", s.Index.Len("demo"), time.Since(built))
	year := &reportv1.Period{StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.AddDate(1, 0, 0)),
		Granularity: reportv1.Granularity_GRANULARITY_MONTH, Calendar: reportv1.Calendar_CALENDAR_JALALI, TimeZone: "Asia/Tehran"}
	byDay := &reportv1.Period{StartTime: year.StartTime, EndTime: year.EndTime, Granularity: reportv1.Granularity_GRANULARITY_DAY, TimeZone: "Asia/Tehran"}
	for name, req := range map[string]*surveyv1.GetScoreKPIsRequest{
		"year-by-jalali-month": {Tenant: "demo", Period: year},
		"cut-by-day":           {Tenant: "demo", Period: byDay, SurveyId: "nps", Touchpoint: "order", Segment: "vip"},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				resp, err := s.GRPC.GetScoreKPIs(ctx, req)
				if err != nil || resp.GetTotal().GetResponses() == 0 {
					b.Fatalf("GetScoreKPIs = %v, %v", resp.GetTotal(), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}
