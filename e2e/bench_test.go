package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
)

const (
	// benchRate is the journeys a second offered (the target's rate; set
	// E2E_RATE to measure others); benchFor how long.
	benchRate = 500
	benchFor  = 10 * time.Second
)

// offeredRate is benchRate, or E2E_RATE when set: the latency at rates
// below the one the system saturates at tells capacity from latency.
func offeredRate(b *testing.B) int {
	v := os.Getenv("E2E_RATE")
	if v == "" {
		return benchRate
	}
	r, err := strconv.Atoi(v)
	if err != nil || r < 1 || r > 5000 {
		b.Fatalf("E2E_RATE %q: want journeys a second, 1 to 5000", v)
	}
	return r
}

// BenchmarkDeliveredToSurveySMS: the five services as their own processes
// (with the pinned nats-server in this process, Redis and a local SMS
// gateway beside them), one rule — on order.delivered, the delivery CSAT
// survey on the customer's channel, no delay — and open-loop load of
// benchRate journeys a second for benchFor, each a distinct customer who
// prefers SMS and consented to it (signed up before the clock starts).
// Latency runs from the shop's order.delivered accepted (ingest's 202) to
// the survey SMS arriving at the gateway. One operation is the whole run.
//
// With E2E_PROFILE_DIR set, the services serve their profiles
// (ADMIN_PPROF) and the benchmark writes a CPU profile of each, and of this
// process (nats-server, the load and the gateway), taken during the load,
// into that directory as <service>.cpu: how to find where a journey's time
// goes.
func BenchmarkDeliveredToSurveySMS(b *testing.B) {
	profileDir := os.Getenv("E2E_PROFILE_DIR")
	settings := []string{"TRIGGER_DEFAULT_PACK=false", "NOTIFICATION_FREQUENCY_CAP=off", "SURVEY_FATIGUE_PERIOD=1h",
		"INGEST_DEFAULT_RATE=100000", "INGEST_DEFAULT_BURST=100000"}
	if profileDir != "" {
		settings = append(settings, "ADMIN_PPROF=true")
	}
	s := start(b, settings...)
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	s.sms.mu.Lock()
	s.sms.arrived = func(to string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := arrived[to]; !seen {
			arrived[to] = at
		}
	}
	s.sms.mu.Unlock()
	ctx := context.Background()
	_, err := s.triggers.CreateRule(ctx, &triggerv1.CreateRuleRequest{Tenant: tenant, Rule: &triggerv1.Rule{RuleId: "csat-on-delivery", Name: "CSAT on delivery",
		Enabled: true, When: &triggerv1.Rule_OnEvent{OnEvent: &triggerv1.EventTrigger{Event: &triggerv1.EventMatch{Type: "order.delivered"}}},
		Actions:  []*triggerv1.Action{{Action: &triggerv1.Action_Survey{Survey: &triggerv1.SurveyAction{SurveyId: "csat-delivery", Touchpoint: "order:{event.order_delivered.order_id}"}}}},
		Controls: &triggerv1.Controls{Reentry: true, ExemptFromGlobalCap: true}}})
	if err != nil {
		b.Fatal(err)
	}

	rate := offeredRate(b)
	n := int(benchFor.Seconds()) * rate
	run := fmt.Sprint(time.Now().UnixNano())
	phone := func(i int) string { return fmt.Sprintf("+98935%07d", i) }
	for start := 0; start < n; start += 1000 {
		var evs []string
		for i := start; i < min(start+1000, n); i++ {
			evs = append(evs, `{"id":"u-`+run+`-`+fmt.Sprint(i)+`","type":"customer.updated","customer":{"customer_id":"b-`+run+`-`+fmt.Sprint(i)+`","phone":"`+phone(i)+`"},"customer_updated":{"locale":"en","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true}]}}`)
		}
		if code, body := s.post(b, "/v1/events:batch", `{"events":[`+strings.Join(evs, ",")+`]}`, nil); code != http.StatusOK || !strings.Contains(body, `"rejected":0`) {
			b.Fatalf("sign-ups: %d %.300s", code, body)
		}
	}
	s.settled(b)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	accepted := make([]time.Time, n)
	failures := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 128)
	b.ResetTimer()
	begin := time.Now().Add(50 * time.Millisecond)
	profiled := profileDuringLoad(b, s, profileDir, benchFor-2*time.Second)
	for i := range n {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			body := `{"id":"d-` + run + `-` + fmt.Sprint(i) + `","type":"order.delivered","customer":{"customer_id":"b-` + run + `-` + fmt.Sprint(i) + `"},"order_delivered":{"order_id":"` + fmt.Sprint(i) + `"}}`
			req, _ := http.NewRequest(http.MethodPost, s.api+"/v1/events", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+apiKey)
			resp, err := client.Do(req)
			if err != nil {
				failures <- err
				return
			}
			// Read to the end, so the connection is kept for the next request:
			// a body closed unread costs a new connection each time.
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				failures <- fmt.Errorf("order.delivered %d: HTTP %d", i, resp.StatusCode)
				return
			}
			accepted[i] = time.Now()
		})
	}
	wg.Wait()
	profiled()
	close(failures)
	// Where the backlog is when the load ends: the stage that falls behind.
	for _, c := range [][2]string{{"JOURNEY", "profile"}, {"JOURNEY", "trigger"}, {"SURVEY_INVITATIONS", "survey"}, {"NOTIFICATION_REQUESTS", "notification"}} {
		if cons, err := s.nats.JS.Consumer(ctx, c[0], c[1]); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				b.Logf("end of load: %s on %s: %d pending, %d unacknowledged", c[1], c[0], info.NumPending, info.NumAckPending)
			}
		}
	}
	for err := range failures {
		b.Fatal(err)
	}
	poll.Until(b, 2*time.Minute, "every survey SMS", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == n
	})
	b.StopTimer()
	mu.Lock()
	lat := make([]time.Duration, 0, n)
	last := begin
	for i := range n {
		at := arrived[phone(i)]
		lat = append(lat, at.Sub(accepted[i]))
		if at.After(last) {
			last = at
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
	b.ReportMetric(float64(n)/last.Sub(begin).Seconds(), "journeys/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
	if s.sms.dups != 0 {
		b.Fatalf("%d repeated SMS sends", s.sms.dups)
	}
}

// profileDuringLoad takes a CPU profile of every service and of this process
// for d, into dir, when dir is set; the returned func waits for them.
func profileDuringLoad(b *testing.B, s *system, dir string, d time.Duration) func() {
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "e2e.test.cpu"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err) // -cpuprofile given as well: one profile at a time
	}
	var wg sync.WaitGroup
	for name, admin := range s.admins {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds()))
			resp, err := http.Get(url)
			if err != nil {
				b.Errorf("profile %s: %v", name, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("profile %s: HTTP %d", name, resp.StatusCode)
				return
			}
			out, err := os.Create(filepath.Join(dir, name+".cpu"))
			if err != nil {
				b.Error(err)
				return
			}
			defer out.Close()
			if _, err := io.Copy(out, resp.Body); err != nil {
				b.Errorf("profile %s: %v", name, err)
			}
		})
	}
	// This process's profile ends when the services' do (each lasts d).
	return func() {
		wg.Wait()
		pprof.StopCPUProfile()
		f.Close()
	}
}
