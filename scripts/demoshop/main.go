// Command demoshop plays a small Iranian tea shop publishing a realistic day
// of events into Bazgasht, and tells a person in the terminal what Bazgasht
// did with each. `make run` runs it against the local services.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:8080", "ingest HTTP API")
	key := flag.String("key", os.Getenv("BAZGASHT_DEV_API_KEY"), "the demo tenant's API key")
	shopify := flag.String("shopify-secret", os.Getenv("BAZGASHT_DEV_SHOPIFY_SECRET"), "the demo tenant's Shopify webhook secret")
	natsURL := flag.String("nats", os.Getenv("NATS_URL"), "NATS, to show what was stored")
	profile := flag.String("profile", "", "profile service gRPC address, to show the profile built")
	trigger := flag.String("trigger", "", "trigger service gRPC address, to show what the rules did")
	inbox := flag.String("sms-inbox", "", "the SMS gateway stand-in's inbox, to answer the survey Sara gets by SMS")
	flag.Parse()
	if err := run(*api, *key, *shopify, *natsURL, *profile, *trigger, *inbox); err != nil {
		fmt.Fprintln(os.Stderr, "demoshop:", err)
		os.Exit(1)
	}
}

type shop struct {
	api, key, shopifySecret string
	client                  *http.Client
	run                     string // makes ids unique per run, so a rerun is new events
}

func run(api, key, shopifySecret, natsURL, profileAddr, triggerAddr, inboxURL string) error {
	began := time.Now()
	s := &shop{api: api, key: key, shopifySecret: shopifySecret, client: &http.Client{Timeout: 10 * time.Second}, run: time.Now().UTC().Format("150405")}
	// The week happens in the last 16 seconds, step by quarter second: the
	// trigger service's default pack runs with a week scaled to 30 seconds
	// in the demo (make run sets TRIGGER_PACK_TIME_SCALE), so its timers
	// fire while you watch.
	start := time.Now().UTC().Add(-16 * time.Second)
	at := func(step time.Duration) string {
		return start.Add(step * 250 * time.Millisecond).Format(time.RFC3339Nano)
	}
	cust := `{"customer_id":"c-sara","email":"sara@example.com","phone":"+989121234567"}`

	steps := []struct{ say, path, body string }{
		{"Sara, browsing anonymously, views a tin of saffron tea", "/v1/events",
			`{"id":"view-1","type":"product.viewed","customer":{"anonymous_id":"anon-7f3a"},"occurred_at":"` + at(0) + `","product_viewed":{"product":{"product_id":"tea-saffron","name":"چای زعفرانی","category":"tea/herbal","price":{"currency":"IRT","amount":"480000"}}}}`},
		{"She also looks at jasmine tea, and does not buy it", "/v1/events",
			`{"id":"view-2","type":"product.viewed","customer":{"anonymous_id":"anon-7f3a"},"occurred_at":"` + at(1) + `","product_viewed":{"product":{"product_id":"tea-jasmine","name":"چای یاس","category":"tea/green","price":{"currency":"IRT","amount":"390000"}}}}`},
		{"She signs up: Persian, Tehran time, prefers SMS", "/v1/events",
			`{"id":"signup","type":"customer.updated","customer":` + strings.Replace(cust, `}`, `,"anonymous_id":"anon-7f3a"}`, 1) + `,"occurred_at":"` + at(1) + `","customer_updated":{"first_name":"سارا","locale":"fa","time_zone":"Asia/Tehran","preferred_channel":"CHANNEL_SMS","consents":[{"channel":"CHANNEL_SMS","granted":true},{"channel":"CHANNEL_EMAIL","granted":true}]}}`},
		{"She orders two tins (960,000 toman)", "/v1/events",
			`{"id":"order-1001-placed","type":"order.placed","customer":` + cust + `,"occurred_at":"` + at(2) + `","order_placed":{"order_id":"1001","total":{"currency":"IRT","amount":"960000"},"items":[{"product":{"product_id":"tea-saffron"},"quantity":2,"unit_price":{"currency":"IRT","amount":"480000"}}],"payment_method":"card"}}`},
		{"Payment, shipping and delivery follow, in one batch", "/v1/events:batch",
			`{"events":[` +
				`{"id":"order-1001-paid","type":"order.paid","customer":` + cust + `,"occurred_at":"` + at(2) + `","order_paid":{"order_id":"1001","amount":{"currency":"IRT","amount":"960000"}}},` +
				`{"id":"order-1001-shipped","type":"order.shipped","customer":` + cust + `,"occurred_at":"` + at(26) + `","order_shipped":{"order_id":"1001","carrier":"Post","tracking_number":"IR123"}},` +
				`{"id":"order-1001-delivered","type":"order.delivered","customer":` + cust + `,"occurred_at":"` + at(50) + `","order_delivered":{"order_id":"1001"}}]}`},
		{"The shop's client retries the delivery event (network blip)", "/v1/events",
			`{"id":"order-1001-delivered","type":"order.delivered","customer":` + cust + `,"occurred_at":"` + at(50) + `","order_delivered":{"order_id":"1001"}}`},
		{"A buggy integration sends an order without a total", "/v1/events",
			`{"id":"order-1002-placed","type":"order.placed","customer":` + cust + `,"order_placed":{"order_id":"1002"}}`},
		{"Sara opens a ticket about a dented tin; it is resolved the same day", "/v1/events:batch",
			`{"events":[` +
				`{"id":"ticket-77-opened","type":"ticket.opened","customer":` + cust + `,"occurred_at":"` + at(54) + `","ticket_opened":{"ticket_id":"77","topic":"delivery","channel":"chat","order_id":"1001"}},` +
				`{"id":"ticket-77-resolved","type":"ticket.resolved","customer":` + cust + `,"occurred_at":"` + at(58) + `","ticket_resolved":{"ticket_id":"77","first_contact":true}}]}`},
		{"Ali, who shops in English and prefers email, has a question about his order answered", "/v1/events:batch",
			`{"events":[` +
				`{"id":"ali-signup","type":"customer.updated","customer":{"customer_id":"c-ali","email":"ali@example.com"},"occurred_at":"` + at(40) + `","customer_updated":{"first_name":"Ali","locale":"en","time_zone":"Europe/Berlin","preferred_channel":"CHANNEL_EMAIL","consents":[{"channel":"CHANNEL_EMAIL","granted":true}]}},` +
				`{"id":"ticket-78-opened","type":"ticket.opened","customer":{"customer_id":"c-ali"},"occurred_at":"` + at(56) + `","ticket_opened":{"ticket_id":"78","topic":"order status","channel":"email"}},` +
				`{"id":"ticket-78-resolved","type":"ticket.resolved","customer":{"customer_id":"c-ali"},"occurred_at":"` + at(58) + `","ticket_resolved":{"ticket_id":"78","first_contact":true}}]}`},
		{"Sara answers an NPS survey from another tool with a 4 (imported)", "/v1/events",
			`{"id":"nps-1","type":"survey.responded","customer":` + cust + `,"occurred_at":"` + at(59) + `","survey_responded":{"survey_id":"nps-imported","kind":"SURVEY_KIND_NPS","score":4,"comment":"The tin was dented"}}`},
	}
	fmt.Println("── The demo shop publishes a customer's week into Bazgasht ──")
	for i, st := range steps {
		body := strings.ReplaceAll(st.body, `"id":"`, `"id":"`+s.run+"-")
		code, answer, err := s.post(st.path, body, nil)
		if err != nil {
			return err
		}
		fmt.Printf("\n%d. %s\n   POST %s → %d %s\n", i+1, st.say, st.path, code, summarise(answer))
	}

	if shopifySecret != "" {
		order := `{"id":820982911946154500,"email":"reza@example.com","created_at":"` + at(60) + `","currency":"IRT","total_price":"1250000.00","subtotal_price":"1250000.00","total_tax":"0.00","total_discounts":"0.00","customer":{"id":115310627314723950,"email":"reza@example.com"},"line_items":[{"product_id":632910392,"variant_id":808950810,"sku":"TEA-BLACK-1KG","title":"Lahijan black tea 1kg","quantity":1,"price":"1250000.00"}]}`
		mac := hmac.New(sha256.New, []byte(shopifySecret))
		mac.Write([]byte(order))
		hdr := map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": s.run + "-b54557e4", "X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil))}
		code, answer, err := s.post("/v1/webhooks/shopify/demo", order, hdr)
		if err != nil {
			return err
		}
		fmt.Printf("\n%d. The shop's Shopify store sends a signed orders/create webhook for Reza (1,250,000.00 IRT)\n   POST /v1/webhooks/shopify/demo → %d %s\n", len(steps)+1, code, summarise(answer))
	}

	if natsURL != "" {
		if err := showStored(natsURL); err != nil {
			fmt.Println("\n(could not read JetStream to show what was stored:", err, ")")
		}
	}
	if profileAddr != "" {
		if err := showProfile(profileAddr); err != nil {
			return err
		}
	}
	if inboxURL != "" && profileAddr != "" {
		if err := answerSurvey(inboxURL, "+989121234567", profileAddr, 4, "سریع و مودبانه پاسخ دادند، ممنون"); err != nil {
			return err
		}
	}
	if triggerAddr != "" && natsURL != "" {
		return showTriggers(natsURL, triggerAddr, began)
	}
	return nil
}

func (s *shop) post(path, body string, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, s.api+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if headers == nil {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w (is ingest running?)", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// summarise turns an ingest answer into one line a person reads.
func summarise(b []byte) string {
	var one struct {
		Status string
		Error  *struct {
			Message string
			Fields  []struct{ Field, Reason string }
		}
		Accepted, Duplicates, Rejected, Unavailable int
		Results                                     []json.RawMessage
	}
	if json.Unmarshal(b, &one) != nil {
		return string(b)
	}
	switch {
	case one.Error != nil && len(one.Error.Fields) > 0:
		f := one.Error.Fields[0]
		return fmt.Sprintf("rejected: %s %s", f.Field, f.Reason)
	case one.Error != nil:
		return "refused: " + one.Error.Message
	case one.Results != nil:
		return fmt.Sprintf("batch: %d accepted, %d duplicate, %d rejected", one.Accepted, one.Duplicates, one.Rejected)
	case one.Status == "duplicate":
		return "duplicate: already stored, nothing changes"
	}
	return one.Status + ": stored in JetStream"
}

func showStored(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "JOURNEY")
	if err != nil {
		return err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("cx.demo.journey.>"))
	if err != nil {
		return err
	}
	fmt.Printf("\n── JOURNEY now holds %d events of tenant demo, by subject ──\n", info.State.Msgs)
	for _, subj := range slices.Sorted(maps.Keys(info.State.Subjects)) {
		fmt.Printf("   %-40s %d\n", subj, info.State.Subjects[subj])
	}
	return nil
}
