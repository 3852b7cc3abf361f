package ports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
	"github.com/bazgasht/bazgasht/services/ingest/internal/ports"
)

// The benchmarks below measure the ingest write path as a shop sees it: an
// HTTP request in, an acknowledgement from JetStream, an answer out. The
// nats-server, the HTTP server and the load-generating clients all run in
// this one process and share its cores, so the figures are a floor for what
// a dedicated ingest replica does; docs/benchmarks.md records what they were.
// Figures go through b.ReportMetric so benchstat can compare runs.

const (
	// benchSingleClients × GOMAXPROCS concurrent clients send single
	// events (64 on a 2-core machine).
	benchSingleClients = 32
	// benchBatchClients × GOMAXPROCS concurrent clients send batches (16
	// on a 2-core machine: 1,600 events in flight, well under the
	// publisher's 8,192 pending acknowledgements).
	benchBatchClients = 8
	// benchBatchSize is the events per batch request.
	benchBatchSize = 100
	// benchPacedRate is the open-loop load of BenchmarkIngestLatencyAt2000.
	benchPacedRate = 2000
	// benchPacedWorkers bounds the requests in flight under paced load; a
	// scheduled request that finds every worker busy waits, and the wait
	// counts in its latency.
	benchPacedWorkers = 256
	// benchCeilingInFlight is how many async publishes the ceiling benchmark
	// keeps outstanding before it waits for their acknowledgements.
	benchCeilingInFlight = 1000
)

// benchAPI is newAPI for benchmarks: the real HTTP handler over httptest and
// a real in-process nats-server, with the demo tenant unlimited, and a
// keep-alive client that holds a connection per concurrent caller.
type benchAPI struct {
	url    string
	nats   *natstest.Server
	client *http.Client
}

func newBenchAPI(tb testing.TB) *benchAPI {
	tb.Helper()
	srv := natstest.Start(tb)
	ctx := context.Background()
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), topology.Ingest(topology.Options{})); err != nil {
		tb.Fatal(err)
	}
	dir, err := tenant.NewDirectory([]*tenant.Tenant{
		// RatePerSecond 0 is unlimited: the benchmarks measure throughput,
		// not the limiter.
		{ID: "demo", KeyHashes: [][32]byte{tenant.HashKey(demoKey)}, RatePerSecond: 0},
	})
	if err != nil {
		tb.Fatal(err)
	}
	// 2s is the service's default INGEST_PUBLISH_TIMEOUT.
	pub, err := adapters.NewJourneyPublisher(srv.NC, 2*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := app.NewPublishEventsHandler(pub, adapters.NewRateLimiter(time.Now), time.Now, 5*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	hp, err := ports.NewHTTP(h, dir, ports.Limits{EventBytes: 64 << 10, BatchBytes: 1 << 20, RetryAfter: time.Second},
		slog.New(slog.DiscardHandler), ports.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(hp.Handler())
	tb.Cleanup(ts.Close)
	tr := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &benchAPI{url: ts.URL, nats: srv, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// post sends body to path as the demo tenant and returns the status and,
// when keepBody is set, the answer's body.
func (a *benchAPI) post(path string, body []byte, keepBody bool) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+demoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if !keepBody {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// stored is how many messages the JOURNEY stream holds.
func (a *benchAPI) stored(tb testing.TB) uint64 {
	tb.Helper()
	s, err := a.nats.JS.Stream(context.Background(), topology.Journey)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info.State.Msgs
}

// benchRun keeps event ids distinct across benchmark runs; benchSeq across
// requests of one run.
var (
	benchRun = strconv.FormatInt(time.Now().UnixNano(), 36)
	benchSeq atomic.Uint64
)

// benchOrderTail is everything of a realistic order.placed event after its
// customer id: contact details, context, totals and two line items (about
// 1 KiB of JSON in all).
const benchOrderTail = `","email":"sara@example.com","phone":"+989121234567"},
 "occurred_at":"2026-11-20T10:00:00+03:30",
 "context":{"channel":"web","campaign":"yalda-1405","locale":"fa-IR","page":"/checkout/complete"},
 "order_placed":{"order_id":"ord-` // order id follows, then benchOrderBody

const benchOrderBody = `",
  "total":{"currency":"IRT","amount":"1250000"},"subtotal":{"currency":"IRT","amount":"1300000"},
  "discount":{"currency":"IRT","amount":"130000"},"shipping":{"currency":"IRT","amount":"80000"},
  "tax":{"currency":"IRT","amount":"0"},
  "items":[
   {"product":{"product_id":"p-7","sku":"TEA-500","name":"Black tea 500g","category":"tea","brand":"Lahijan",
     "price":{"currency":"IRT","amount":"450000"}},"quantity":2,"unit_price":{"currency":"IRT","amount":"450000"}},
   {"product":{"product_id":"p-19","sku":"SAF-2","name":"Saffron 2g","category":"spice","brand":"Ghaenat",
     "price":{"currency":"IRT","amount":"400000"}},"quantity":1,"unit_price":{"currency":"IRT","amount":"400000"}}],
  "coupon":"YALDA10","payment_method":"card"}}`

// appendBenchOrder appends a fresh order.placed event with a distinct id.
func appendBenchOrder(dst []byte) []byte {
	n := benchSeq.Add(1)
	dst = append(dst, `{"id":"bench-`...)
	dst = append(dst, benchRun...)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, `","type":"order.placed","customer":{"customer_id":"c-`...)
	dst = strconv.AppendUint(dst, n%5000, 10)
	dst = append(dst, benchOrderTail...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, benchOrderBody...)
}

func benchOrderEvent() []byte { return appendBenchOrder(make([]byte, 0, 1280)) }

func benchOrderBatch(n int) []byte {
	b := make([]byte, 0, n*1280+16)
	b = append(b, `{"events":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBenchOrder(b)
	}
	return append(b, "]}"...)
}

// benchLatencies gathers the samples of every client.
type benchLatencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *benchLatencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// report sorts the samples and reports the quantiles in milliseconds under
// "p<q>-ms".
func (l *benchLatencies) report(b *testing.B, quantiles ...int) {
	slices.Sort(l.d)
	for _, q := range quantiles {
		b.ReportMetric(benchNearestRank(l.d, float64(q)/100).Seconds()*1000, "p"+strconv.Itoa(q)+"-ms")
	}
}

// benchNearestRank is the q-quantile of sorted samples.
func benchNearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// benchFailure keeps the first error the clients met: only the benchmark's own
// goroutine may call b.Fatal, and the clients stop sending once one failed.
type benchFailure struct {
	once sync.Once
	hit  atomic.Bool
	err  error
}

func (f *benchFailure) set(err error) {
	f.once.Do(func() { f.err = err; f.hit.Store(true) })
}

func (f *benchFailure) failed() bool { return f.hit.Load() }

// check fails the benchmark with the first error, if any.
func (f *benchFailure) check(b *testing.B) {
	b.Helper()
	if f.hit.Load() {
		b.Fatal(f.err)
	}
}

func benchStatusErr(status int, body []byte, err error, want int) error {
	switch {
	case err != nil:
		return err
	case status != want:
		return fmt.Errorf("answer %d, want %d: %.300s", status, want, body)
	}
	return nil
}

// warmUp checks the set-up answers as the benchmark expects, before the clock runs.
func (a *benchAPI) warmUp(b *testing.B) {
	b.Helper()
	st, body, err := a.post("/v1/events", benchOrderEvent(), true)
	if err := benchStatusErr(st, body, err, http.StatusAccepted); err != nil {
		b.Fatal("warm-up: ", err)
	}
}

// BenchmarkIngestSingleEvent: 64 concurrent keep-alive clients (on 2
// cores) POST one order.placed event per request to /v1/events. Each answer
// must be 202, which the service gives only once JetStream acknowledged the
// event; events/s is those acknowledged per wall second.
func BenchmarkIngestSingleEvent(b *testing.B) {
	a := newBenchAPI(b)
	a.warmUp(b)
	before := a.stored(b)
	var (
		lat   benchLatencies
		fail  benchFailure
		acked atomic.Int64
	)
	b.SetParallelism(benchSingleClients)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]time.Duration, 0, 4096)
		for pb.Next() {
			if fail.failed() {
				continue
			}
			body := benchOrderEvent()
			t0 := time.Now()
			st, raw, err := a.post("/v1/events", body, false)
			own = append(own, time.Since(t0))
			if err := benchStatusErr(st, raw, err, http.StatusAccepted); err != nil {
				fail.set(err)
				continue
			}
			acked.Add(1)
		}
		lat.add(own)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	fail.check(b)
	if got := a.stored(b) - before; got != uint64(acked.Load()) {
		b.Fatalf("JOURNEY gained %d messages for %d acknowledged events", got, acked.Load())
	}
	b.ReportMetric(float64(acked.Load())/elapsed.Seconds(), "events/s")
	lat.report(b, 50, 99)
}

// BenchmarkIngestBatch100: 16 concurrent clients (on 2 cores) POST batches
// of 100 order.placed events to /v1/events:batch; each answer must be 200
// with all 100 accepted. events/s counts events, p99-ms is per request.
func BenchmarkIngestBatch100(b *testing.B) {
	a := newBenchAPI(b)
	a.warmUp(b)
	before := a.stored(b)
	var (
		lat   benchLatencies
		fail  benchFailure
		acked atomic.Int64
	)
	wantPrefix := []byte(`{"accepted":` + strconv.Itoa(benchBatchSize) + `,`)
	b.SetParallelism(benchBatchClients)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]time.Duration, 0, 1024)
		for pb.Next() {
			if fail.failed() {
				continue
			}
			body := benchOrderBatch(benchBatchSize)
			t0 := time.Now()
			st, raw, err := a.post("/v1/events:batch", body, true)
			own = append(own, time.Since(t0))
			if err := benchStatusErr(st, raw, err, http.StatusOK); err != nil {
				fail.set(err)
				continue
			}
			if !bytes.HasPrefix(raw, wantPrefix) {
				fail.set(fmt.Errorf("batch not all accepted: %.300s", raw))
				continue
			}
			acked.Add(benchBatchSize)
		}
		lat.add(own)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	fail.check(b)
	if got := a.stored(b) - before; got != uint64(acked.Load()) {
		b.Fatalf("JOURNEY gained %d messages for %d acknowledged events", got, acked.Load())
	}
	b.ReportMetric(float64(acked.Load())/elapsed.Seconds(), "events/s")
	lat.report(b, 50, 99)
}

// BenchmarkIngestLatencyAt2000 offers single-event requests open-loop at
// 2,000 a second: request i is due at start + i/2000 s whether or not
// earlier ones were answered, and its latency runs from when it was due,
// not from when a worker got to send it, so a stall shows in every request
// it delayed (no coordinated omission). b.N is the number of requests, so
// ns/op stays near 500,000 while the service keeps up.
func BenchmarkIngestLatencyAt2000(b *testing.B) {
	a := newBenchAPI(b)
	a.warmUp(b)
	interval := time.Second / benchPacedRate
	var (
		lat   benchLatencies
		fail  benchFailure
		acked atomic.Int64
		last  atomic.Int64 // unix nanoseconds of the latest answer
		wg    sync.WaitGroup
	)
	due := make(chan time.Time, b.N)
	for range benchPacedWorkers {
		wg.Go(func() {
			var own []time.Duration
			for at := range due {
				if fail.failed() {
					continue
				}
				st, raw, err := a.post("/v1/events", benchOrderEvent(), false)
				done := time.Now()
				own = append(own, done.Sub(at))
				if err := benchStatusErr(st, raw, err, http.StatusAccepted); err != nil {
					fail.set(err)
					continue
				}
				acked.Add(1)
				for {
					prev := last.Load()
					if done.UnixNano() <= prev || last.CompareAndSwap(prev, done.UnixNano()) {
						break
					}
				}
			}
			lat.add(own)
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	// The scheduler sleeps until the next request is due, then releases
	// every request due by now: a late wake-up delays requests, and that
	// delay is counted against the service, never hidden.
	for i := 0; i < b.N; {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		for ; i < b.N; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.After(now) {
				break
			}
			due <- at
		}
	}
	close(due)
	wg.Wait()
	b.StopTimer()
	fail.check(b)
	elapsed := time.Unix(0, last.Load()).Sub(start)
	b.ReportMetric(float64(acked.Load())/elapsed.Seconds(), "events/s")
	lat.report(b, 50, 99)
}

// BenchmarkJetStreamAsyncPublishCeiling is the ceiling the ingest figures
// are compared to: the same JOURNEY stream on the same in-process server,
// published to directly with PublishMsgAsync, Nats-Msg-Id set and the
// stream expected, as the service's publisher does, 1,000 in flight before
// waiting for their acknowledgements. The payload is one realistic event
// encoded once: no HTTP, no JSON, no validation, no per-event encoding.
func BenchmarkJetStreamAsyncPublishCeiling(b *testing.B) {
	srv := natstest.Start(b)
	if err := topology.Ensure(context.Background(), srv.JS, srv.NC.ConnectedServerVersion(), topology.Ingest(topology.Options{})); err != nil {
		b.Fatal(err)
	}
	// The publisher's own settings (adapters.NewJourneyPublisher).
	js, err := jetstream.New(srv.NC, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(2*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	ev, errs := journey.DecodeJSON(benchOrderEvent())
	if errs != nil {
		b.Fatal(errs)
	}
	ev.Tenant, ev.Source, ev.ReceivedAt = "demo", "api", timestamppb.Now()
	data, err := proto.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	subject := journey.Subject("demo", ev.GetType())
	futures := make([]jetstream.PubAckFuture, 0, benchCeilingInFlight)

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		futures = futures[:0]
		for ; i < b.N && len(futures) < benchCeilingInFlight; i++ {
			msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
			msg.Header.Set("Content-Type", journeystream.ContentType)
			id := journey.MsgID("demo", "ceiling-"+benchRun+"-"+strconv.FormatUint(benchSeq.Add(1), 10))
			f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(topology.Journey))
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case ack := <-f.Ok():
				if ack.Duplicate {
					b.Fatal(errors.New("a distinct message id was taken for a duplicate"))
				}
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}
