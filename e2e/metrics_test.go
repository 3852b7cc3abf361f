package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bazgasht/bazgasht/platform/poll"
)

// scrape reads a service's /metrics.
func (s *system) scrape(t *testing.T, service string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.admins[service] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s /metrics: %v", service, err)
	}
	return fams
}

// has reports whether family has a series whose labels include want.
func has(f *dto.MetricFamily, want map[string]string) bool {
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Every service's /metrics speaks Prometheus' conventions — counters end in
// _total, durations in _seconds, no customer in any label — and says what
// ops asks of it: events in and duplicates, rejections by reason, consumer
// outcomes and lag, firings (and why some were held back), notifications by
// outcome and channel, the profile cache's hits.
func TestMetricsSayWhatHappenedWithoutNamingCustomers(t *testing.T) {
	s := start(t, "NOTIFICATION_QUIET_HOURS=off")
	const phone, email = "+989127778888", "leila@example.com"
	customer := `{"customer_id":"c-leila","email":"` + email + `","phone":"` + phone + `"}`
	batch := `{"events":[` +
		`{"id":"m-signup","type":"customer.updated","customer":` + customer + `,"customer_updated":{"first_name":"Leila","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true}]}},` +
		`{"id":"m-t1-opened","type":"ticket.opened","customer":` + customer + `,"ticket_opened":{"ticket_id":"t1","topic":"payment"}},` +
		`{"id":"m-t1-resolved","type":"ticket.resolved","customer":` + customer + `,"ticket_resolved":{"ticket_id":"t1"}},` +
		`{"id":"m-bad","type":"order.placed","customer":` + customer + `,"order_placed":{"order_id":"1"}}]}`
	for range 2 { // the second time, every event is a duplicate
		if code, body := s.post(t, "/v1/events:batch", batch, nil); code != http.StatusOK {
			t.Fatalf("batch: %d %s", code, body)
		}
	}
	poll.Until(t, 20*time.Second, "the support survey SMS", func() bool { return len(s.sms.to(phone)) == 1 })

	want := map[string][]struct {
		family string
		labels map[string]string
	}{
		"ingest": {{"bazgasht_ingest_events_total", map[string]string{"outcome": "accepted"}}, {"bazgasht_ingest_events_total", map[string]string{"outcome": "duplicate"}},
			{"bazgasht_ingest_events_total", map[string]string{"outcome": "rejected"}}, {"bazgasht_ingest_rejections_total", nil}},
		"profile": {{"bazgasht_consumer_messages_total", map[string]string{"consumer": "profile", "outcome": "done"}},
			{"bazgasht_consumer_lag_messages", map[string]string{"consumer": "profile"}}, {"bazgasht_consumer_handle_seconds", map[string]string{"consumer": "profile"}},
			{"bazgasht_profile_cache_requests_total", nil}},
		"trigger": {{"bazgasht_consumer_messages_total", map[string]string{"consumer": "trigger", "outcome": "done"}},
			{"bazgasht_consumer_lag_messages", map[string]string{"consumer": "trigger-timers"}},
			{"bazgasht_trigger_firings_total", map[string]string{"rule": "csat-after-ticket", "outcome": "acted"}}},
		"survey": {{"bazgasht_consumer_messages_total", map[string]string{"consumer": "survey", "outcome": "done"}},
			{"bazgasht_consumer_lag_messages", map[string]string{"consumer": "survey"}}},
		"notification": {{"bazgasht_consumer_messages_total", map[string]string{"consumer": "notification", "outcome": "done"}},
			{"bazgasht_notification_outcomes_total", map[string]string{"channel": "sms"}}, {"bazgasht_notification_provider_seconds", nil}},
	}
	for service, families := range want {
		var fams map[string]*dto.MetricFamily
		poll.Until(t, 15*time.Second, service+"'s metrics", func() bool {
			fams = s.scrape(t, service)
			for _, w := range families {
				if f := fams[w.family]; f == nil || !has(f, w.labels) {
					return false
				}
			}
			return true
		})
		for name, f := range fams {
			if !strings.HasPrefix(name, "bazgasht_") {
				continue
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				if !strings.HasSuffix(name, "_total") {
					t.Errorf("%s: counter %s does not end in _total", service, name)
				}
			case dto.MetricType_HISTOGRAM:
				if !strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_bytes") {
					t.Errorf("%s: histogram %s is not in _seconds or _bytes", service, name)
				}
			case dto.MetricType_GAUGE:
				if strings.HasSuffix(name, "_total") {
					t.Errorf("%s: gauge %s ends in _total", service, name)
				}
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "customer", "customer_id", "email", "phone", "profile", "profile_id", "name":
						t.Errorf("%s: %s is labelled by %s", service, name, l.GetName())
					}
					for _, pii := range []string{phone, email, "c-leila", "Leila"} {
						if strings.Contains(l.GetValue(), pii) {
							t.Errorf("%s: %s label %s carries personal data", service, name, l.GetName())
						}
					}
				}
			}
		}
	}
}
