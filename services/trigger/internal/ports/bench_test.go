package ports_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
	"github.com/bazgasht/bazgasht/services/trigger/internal/service"
)

// The benchmarks below measure the trigger service's two targets end to end
// (issue 4): a journey event published into JOURNEY until its action is
// visible on the broker, under paced load; and 100,000 pending durable
// timers, from each timer's moment until its firing is announced. The
// engine runs as service.Run wires it — the real adapters, the production
// consume settings and global cap — over the pinned nats-server in-process,
// with the real profile service (built in TestMain) and redis-server beside
// it, and the load generator and the observer in this process too: all on
// the same cores, so the figures are a floor for a dedicated deployment.
// docs/benchmarks.md records what they showed. Figures go through
// b.ReportMetric so benchstat can compare runs.

// The service's production settings (service.Config and service.Run),
// which the benchmarks run with.
const (
	benchConsumeAhead   = 8
	benchWorkers        = 32
	benchConsumeWait    = time.Second
	benchRetryDelay     = time.Second
	benchStoreTimeout   = 5 * time.Second
	benchGlobalCapCount = 3
	benchGlobalCapFor   = 168 * time.Hour
)

const (
	// benchTenant owns every benchmark customer.
	benchTenant = "demo"
	// benchPaced is one operation of BenchmarkEventToAction: 10 s of load
	// at the case's rate, so that -benchtime 1x and -benchtime 10s both run
	// it once.
	benchPaced = 10 * time.Second
	// benchWarmUp is paced first at benchWarmUpRate, unmeasured: it opens
	// the gRPC connection to the profile service, the stream files and the
	// consumers' first fetches.
	benchWarmUp     = 2 * time.Second
	benchWarmUpRate = 100
	// benchPublishers bound the publishes in flight under paced load; an
	// event due while every publisher is busy waits, and the wait counts.
	benchPublishers = 64
	// benchStall fails a benchmark when no firing was seen for this long
	// while some were still awaited.
	benchStall = 30 * time.Second
	// benchPending is how many timers BenchmarkPendingTimers keeps pending
	// (override with BAZGASHT_BENCH_TIMERS for a quick look at a smaller
	// size).
	benchPending = 100_000
	// benchTimerSchedulers schedule the timers concurrently during set-up.
	benchTimerSchedulers = 32
	// benchTimerLead is how long after scheduling starts the first timer
	// falls due: the set-up and both memory readings must be over by then,
	// the second more than 10 s after the last write (nats-server keeps a
	// message block's cache that long).
	benchTimerLead = 40 * time.Second
	// benchTimerLater is when the timers that are not measured fall due:
	// they stay pending through the benchmark, as most of a week's timers
	// would.
	benchTimerLater = 7 * 24 * time.Hour
)

// benchRunID keeps customer and event ids distinct across runs.
var benchRunID = strconv.FormatInt(time.Now().UnixNano(), 36)

// benchEnv is the trigger engine wired as service.Run wires it: its own
// NATS connection, the real adapters, the production consume settings and
// global cap, the real profile service beside it. The benchmark's load and
// its observer have their own connections.
type benchEnv struct {
	nats   *natstest.Server
	timers *adapters.TimerScheduler
	state  *adapters.KVState
	// load publishes journey events as the ingest service would.
	load *journeystream.Publisher
	// obs watches what the engine does, with core subscriptions.
	obs *nats.Conn
	// wg waits for the rule watch and the consume loops at clean-up.
	wg sync.WaitGroup
}

// newBenchEnv starts nats-server, the profile service and the engine with
// pack as the default pack and own as the tenant's rules.
func newBenchEnv(b *testing.B, pack []rule.Rule, own ...rule.Rule) *benchEnv {
	b.Helper()
	srv := natstest.Start(b)
	ctx := context.Background()
	for _, set := range []topology.Set{topology.Trigger(topology.Options{}), topology.Profile(topology.Options{})} {
		if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
			b.Fatal(err)
		}
	}
	prefix := redistest.Prefix(b, redistest.Client(b))
	profileAddr, profileAdmin := proctest.FreeAddr(b), proctest.FreeAddr(b)
	p := proctest.Start(b, profileBin, "NATS_URL="+srv.URL, "REDIS_URL="+redistest.URL(), "PROFILE_CACHE_PREFIX="+prefix,
		"PROFILE_GRPC_ADDR="+profileAddr, "PROFILE_ADMIN_ADDR="+profileAdmin, "LOG_LEVEL=warn")
	p.WaitReady(b, "http://"+profileAdmin+"/readyz", 20*time.Second)

	connect := func(name string) *nats.Conn {
		nc, err := nats.Connect(srv.URL, nats.Name(name))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	svc := connect("trigger")
	js, err := jetstream.New(svc)
	if err != nil {
		b.Fatal(err)
	}
	store, err := adapters.NewRuleStore(ctx, js, pack)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range own {
		if _, err := store.Put(ctx, benchTenant, r, 0, true); err != nil {
			b.Fatalf("rule %s: %v", r.ID, err)
		}
	}
	state, err := adapters.NewKVState(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	timers, err := adapters.NewTimerScheduler(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	tasks, err := adapters.NewTaskKVStore(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := journeystream.NewPublisher(svc, benchStoreTimeout)
	if err != nil {
		b.Fatal(err)
	}
	actor, err := adapters.NewActor(js, pub, tasks, adapters.ActorConfig{HTTPTimeout: benchStoreTimeout}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	profiles, err := adapters.NewProfileClient(profileAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = profiles.Close() })
	engine, err := app.NewEngine(store, profiles, timers, state, actor, app.GlobalCap{Count: benchGlobalCapCount, Window: benchGlobalCapFor}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	events, err := js.Consumer(ctx, topology.Journey, topology.TriggerConsumer)
	if err != nil {
		b.Fatal(err)
	}
	fired, err := js.Consumer(ctx, topology.TriggerTimers, topology.TriggerTimerConsumer)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("TRIGGER_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &benchEnv{nats: srv, timers: timers, state: state, obs: connect("observer")}
	if e.load, err = journeystream.NewPublisher(connect("load"), benchStoreTimeout); err != nil {
		b.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	b.Cleanup(func() { cancel(); e.wg.Wait() })
	e.wg.Go(func() { _ = store.Run(cctx) })
	if err := store.WaitReady(natstest.Context(b, 10*time.Second)); err != nil {
		b.Fatal(err)
	}
	e.wg.Go(func() {
		_ = journeystream.ConsumeConcurrently(cctx, js, events, journeystream.ConcurrentConfig{
			ConsumeConfig: journeystream.ConsumeConfig{Durable: topology.TriggerConsumer, MaxDeliver: topology.TriggerMaxDeliver,
				Batch: benchConsumeAhead, MaxWait: benchConsumeWait, RetryDelay: benchRetryDelay},
			Workers: benchWorkers, Key: ports.CustomerKey}, ports.EventHandler(engine), log)
	})
	e.wg.Go(func() {
		_ = ports.ConsumeTimers(cctx, js, fired, ports.TimerConfig{Durable: topology.TriggerTimerConsumer, MaxDeliver: topology.TriggerMaxDeliver,
			Batch: benchConsumeAhead, MaxWait: benchConsumeWait, RetryDelay: benchRetryDelay, Workers: benchWorkers}, engine, log)
	})
	return e
}

// benchPackRule returns one rule of the default pack as the service loads
// it (version 1, durations unscaled).
func benchPackRule(b *testing.B, id string) rule.Rule {
	b.Helper()
	pack, err := service.Pack(1)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range pack {
		if r.ID == id {
			return r
		}
	}
	b.Fatalf("no rule %s in the default pack", id)
	return rule.Rule{}
}

func benchPack(b *testing.B) []rule.Rule {
	b.Helper()
	pack, err := service.Pack(1)
	if err != nil {
		b.Fatal(err)
	}
	return pack
}

// benchCustomer is customer i of a phase: "c-<run>-<phase>-<i>".
func benchCustomer(phase string, i int) string {
	return "c-" + benchRunID + "-" + phase + "-" + strconv.Itoa(i)
}

// benchIndex reads i back from a customer id of phase, or -1.
func benchIndex(phase, customerID string) int {
	rest, ok := strings.CutPrefix(customerID, "c-"+benchRunID+"-"+phase+"-")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return i
}

// benchSamples are the latencies of one phase, by event, as the observer
// sees them arrive; each event counts once however often it is seen.
type benchSamples struct {
	phase string
	// origin returns the moment latency is measured from, for event i.
	origin func(i int) time.Time

	mu         sync.Mutex
	fired      []time.Duration
	firedSeen  []bool
	firedN     int
	action     []time.Duration
	actionSeen []bool
	actionN    int
	suppressed int
	last       time.Time
	all        chan struct{}
	watchAct   bool
}

func newBenchSamples(phase string, n int, watchAction bool, origin func(i int) time.Time) *benchSamples {
	s := &benchSamples{phase: phase, origin: origin, fired: make([]time.Duration, n), firedSeen: make([]bool, n),
		all: make(chan struct{}), watchAct: watchAction}
	if watchAction {
		s.action, s.actionSeen = make([]time.Duration, n), make([]bool, n)
	}
	return s
}

func (s *benchSamples) complete() bool {
	return s.firedN == len(s.fired) && (!s.watchAct || s.actionN == len(s.action))
}

func (s *benchSamples) sawFired(at time.Time, customerID string, suppressed bool) {
	i := benchIndex(s.phase, customerID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.fired) || s.firedSeen[i] {
		return
	}
	if suppressed {
		s.suppressed++
	}
	s.fired[i], s.firedSeen[i] = at.Sub(s.origin(i)), true
	s.firedN++
	if at.After(s.last) {
		s.last = at
	}
	if s.complete() {
		close(s.all)
	}
}

func (s *benchSamples) sawAction(at time.Time, customerID string) {
	i := benchIndex(s.phase, customerID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.watchAct || i < 0 || i >= len(s.action) || s.actionSeen[i] {
		return
	}
	s.action[i], s.actionSeen[i] = at.Sub(s.origin(i)), true
	s.actionN++
	if s.complete() {
		close(s.all)
	}
}

// wait blocks until every event was seen, or no new firing was seen for
// benchStall; it reports how many firings and actions were seen.
func (s *benchSamples) wait() (fired, actions int, ok bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := -1, time.Now()
	for {
		select {
		case <-s.all:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.firedN, s.actionN, true
		case <-tick.C:
		}
		s.mu.Lock()
		n, a := s.firedN, s.actionN
		s.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > benchStall {
			return n, a, false
		}
	}
}

// benchObserver follows trigger.fired and an action subject with core
// subscriptions: a message is seen as the broker routes it, which is when
// any consumer of that subject could see it.
type benchObserver struct {
	cur atomic.Pointer[benchSamples]
	err atomic.Pointer[error]
}

// observe subscribes to trigger.fired and, if actionSubject is set, to the
// action's subject, decoding its customer with customerOf.
func (e *benchEnv) observe(b *testing.B, actionSubject string, customerOf func([]byte) (string, error)) *benchObserver {
	b.Helper()
	o := &benchObserver{}
	fail := func(err error) { o.err.CompareAndSwap(nil, &err) }
	sub, err := e.obs.Subscribe("cx."+benchTenant+".journey.trigger.fired", func(m *nats.Msg) {
		at := time.Now()
		ev := &journeyv1.JourneyEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			fail(err)
			return
		}
		if s := o.cur.Load(); s != nil {
			s.sawFired(at, ev.GetCustomer().GetCustomerId(), ev.GetTriggerFired().GetSuppressed())
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	benchUnlimited(b, sub)
	if actionSubject != "" {
		sub, err := e.obs.Subscribe(actionSubject, func(m *nats.Msg) {
			at := time.Now()
			id, err := customerOf(m.Data)
			if err != nil {
				fail(err)
				return
			}
			if s := o.cur.Load(); s != nil {
				s.sawAction(at, id)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		benchUnlimited(b, sub)
	}
	if err := e.obs.Flush(); err != nil {
		b.Fatal(err)
	}
	return o
}

// benchUnlimited lifts a subscription's pending limits: the observer must
// never drop a message as a slow consumer, even during a backlog.
func benchUnlimited(b *testing.B, sub *nats.Subscription) {
	b.Helper()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}
}

func (o *benchObserver) check(b *testing.B) {
	b.Helper()
	if err := o.err.Load(); err != nil {
		b.Fatal(*err)
	}
}

// benchFailure keeps the first error of the publishers: only the
// benchmark's goroutine may call b.Fatal.
type benchFailure struct{ err atomic.Pointer[error] }

func (f *benchFailure) set(err error) { f.err.CompareAndSwap(nil, &err) }

func (f *benchFailure) check(b *testing.B) {
	b.Helper()
	if err := f.err.Load(); err != nil {
		b.Fatal(*err)
	}
}

// pace publishes n events open-loop at rate a second, event i due at
// start + i/rate whether or not earlier ones were acknowledged, each
// published alone as the ingest service publishes a single event. A
// scheduler that wakes late, or an event that finds every publisher busy,
// delays the event, and the delay counts against its latency.
func (e *benchEnv) pace(n, rate int, start time.Time, mk func(i int, due time.Time) *journeyv1.JourneyEvent, fail *benchFailure) {
	interval := time.Second / time.Duration(rate)
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, n)
	var wg sync.WaitGroup
	for range benchPublishers {
		wg.Go(func() {
			for j := range jobs {
				ev := mk(j.i, j.due)
				if ack := e.load.Publish(context.Background(), []*journeyv1.JourneyEvent{ev})[0]; ack.Err != nil {
					fail.set(fmt.Errorf("publish %s: %w", ev.GetId(), ack.Err))
				} else if ack.Duplicate {
					fail.set(fmt.Errorf("publish %s: taken for a duplicate", ev.GetId()))
				}
			}
		})
	}
	for i := 0; i < n; {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		for ; i < n; i++ {
			due := start.Add(time.Duration(i) * interval)
			if due.After(now) {
				break
			}
			jobs <- job{i, due}
		}
	}
	close(jobs)
	wg.Wait()
}

// benchPhones keeps phone numbers distinct: the profile service joins
// customers who share one into one profile.
var benchPhones atomic.Int64

func benchPhone() string { return fmt.Sprintf("+98912%07d", benchPhones.Add(1)%10_000_000) }

func benchShipped(id, customer string, due time.Time) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Tenant: benchTenant, Type: "order.shipped", Source: "api",
		Customer:   &journeyv1.Customer{CustomerId: customer, Email: customer + "@example.com", Phone: benchPhone()},
		OccurredAt: timestamppb.New(due), ReceivedAt: timestamppb.Now(),
		Context: &journeyv1.Context{Channel: "web", Locale: "fa-IR"},
		Payload: &journeyv1.JourneyEvent_OrderShipped{OrderShipped: &journeyv1.OrderShipped{OrderId: "ord-" + id,
			Carrier: "post", TrackingNumber: "TRK-" + id}}}
}

func benchDetractor(id, customer string, due time.Time) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Tenant: benchTenant, Type: "survey.responded", Source: "survey",
		Customer:   &journeyv1.Customer{CustomerId: customer, Email: customer + "@example.com"},
		OccurredAt: timestamppb.New(due), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: "nps-q4",
			Kind: journeyv1.SurveyKind_SURVEY_KIND_NPS, Score: 3, Comment: "the parcel came late"}}}
}

func benchNotifyCustomer(data []byte) (string, error) {
	req := &notificationv1.SendRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		return "", err
	}
	return req.GetCustomer().GetCustomerId(), nil
}

func benchEventCustomer(data []byte) (string, error) {
	ev := &journeyv1.JourneyEvent{}
	if err := proto.Unmarshal(data, ev); err != nil {
		return "", err
	}
	return ev.GetCustomer().GetCustomerId(), nil
}

// shippedNotice is an event rule with a notify action and no conditions:
// the engine still reads the profile, for consent.
var benchShippedNotice = rule.Rule{ID: "shipped-notice", Name: "Your order is on its way", Enabled: true, Kind: rule.OnEvent,
	Start: &rule.EventMatch{Type: "order.shipped"},
	Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "order-shipped", Channel: "auto", Transactional: true,
		Variables: map[string]string{"order_id": "{event.order_shipped.order_id}", "tracking": "{event.order_shipped.tracking_number}"}}}},
	Controls: rule.Controls{Reentry: true}}

// BenchmarkEventToAction offers journey events to JOURNEY open-loop, each
// for a distinct customer and matched by one event rule, and measures from
// when each event was due to be published until the engine's trigger.fired
// announcing its firing is routed by the broker (p50-ms, p99-ms: every
// action is done by then), and until the action's own message
// (action-p50-ms, action-p99-ms): the notification request on
// NOTIFICATION_REQUESTS, or the task.created event. events/s is the firing
// rate achieved. One operation is 10 s of load after 2 s of unmeasured
// warm-up at 100 events/s, so -benchtime 1x and 10s both run it once.
//
//   - notify: an event rule with a notify action and no conditions, at
//     1,000 events/s. The engine reads the profile service for consent
//     before acting.
//   - task: an NPS detractor answer opens a follow-up task (the default
//     pack's nps-detractor-follow-up), at 1,000 events/s; no profile read.
//   - notify+pack: notify, with the default pack on as in production: the
//     event is also matched against the pack's nine rules and, being
//     activity, moves the customer's winback-90d inactivity timer.
//   - notify-100eps, task-100eps: notify and task at 100 events/s, well
//     within what the engine keeps up with: the latency of one event when
//     none waits behind another.
func BenchmarkEventToAction(b *testing.B) {
	notify := func(*testing.B) rule.Rule { return benchShippedNotice }
	detractor := func(b *testing.B) rule.Rule {
		r := benchPackRule(b, "nps-detractor-follow-up")
		r.Version = 0 // stored as the tenant's own rule
		return r
	}
	notified := "cx." + benchTenant + ".notification.send"
	tasked := "cx." + benchTenant + ".journey.task.created"
	cases := []struct {
		name string
		// rate is the offered load, events a second.
		rate int
		// pack turns the default pack on.
		pack bool
		rule func(*testing.B) rule.Rule
		// event makes the event with id for customer, due at due.
		event func(id, customer string, due time.Time) *journeyv1.JourneyEvent
		// actionSubject carries the action's message; customerOf reads its
		// customer.
		actionSubject string
		customerOf    func([]byte) (string, error)
	}{
		{"notify", 1000, false, notify, benchShipped, notified, benchNotifyCustomer},
		{"task", 1000, false, detractor, benchDetractor, tasked, benchEventCustomer},
		{"notify+pack", 1000, true, notify, benchShipped, notified, benchNotifyCustomer},
		{"notify-100eps", 100, false, notify, benchShipped, notified, benchNotifyCustomer},
		{"task-100eps", 100, false, detractor, benchDetractor, tasked, benchEventCustomer},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var pack []rule.Rule
			if c.pack {
				pack = benchPack(b)
			}
			e := newBenchEnv(b, pack, c.rule(b))
			obs := e.observe(b, c.actionSubject, c.customerOf)
			var fail benchFailure
			run := func(phase string, rate int, d time.Duration) (*benchSamples, time.Time) {
				n := int(d.Seconds() * float64(rate))
				interval := time.Second / time.Duration(rate)
				start := time.Now().Add(50 * time.Millisecond)
				s := newBenchSamples(phase, n, true, func(i int) time.Time { return start.Add(time.Duration(i) * interval) })
				obs.cur.Store(s)
				e.pace(n, rate, start, func(i int, due time.Time) *journeyv1.JourneyEvent {
					return c.event("ev-"+benchRunID+"-"+phase+"-"+strconv.Itoa(i), benchCustomer(phase, i), due)
				}, &fail)
				fail.check(b)
				if f, a, ok := s.wait(); !ok {
					b.Fatalf("%s: %d of %d firings and %d actions seen; none for %v", phase, f, n, a, benchStall)
				}
				obs.check(b)
				if s.suppressed > 0 {
					b.Fatalf("%s: %d firings suppressed; every customer is distinct", phase, s.suppressed)
				}
				return s, start
			}
			run("warm", benchWarmUpRate, benchWarmUp)
			var fired, action []time.Duration
			var busy time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, start := run("run"+strconv.Itoa(i), c.rate, benchPaced)
				fired, action = append(fired, s.fired...), append(action, s.action...)
				busy += s.last.Sub(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(len(fired))/busy.Seconds(), "events/s")
			benchQuantiles(b, fired, "", 50, 99)
			benchQuantiles(b, action, "action-", 50, 99)
		})
	}
}

// benchQuantiles sorts d and reports its q-quantiles in milliseconds under
// "<prefix>p<q>-ms".
func benchQuantiles(b *testing.B, d []time.Duration, prefix string, qs ...int) {
	slices.Sort(d)
	for _, q := range qs {
		b.ReportMetric(benchNearestRank(d, float64(q)/100).Seconds()*1000, prefix+"p"+strconv.Itoa(q)+"-ms")
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

// benchPendingCount is benchPending, or BAZGASHT_BENCH_TIMERS.
func benchPendingCount(b *testing.B) int {
	b.Helper()
	v := os.Getenv("BAZGASHT_BENCH_TIMERS")
	if v == "" {
		return benchPending
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("BAZGASHT_BENCH_TIMERS=%q is not a positive count", v)
	}
	return n
}

// benchHeapInUse is the Go heap in use, and the live heap, after two full
// collections: the whole process's, nats-server included.
func benchHeapInUse() (inuse, live uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc
}

// BenchmarkPendingTimers keeps 100,000 timers of the default pack's
// csat-after-delivery rule pending (a survey 7 days after delivery; the
// engine reads the profile for consent when one fires), each for a
// distinct customer whose order was delivered 7 days before the timer's
// moment. Of these, the case's due count fall due evenly over its window,
// the first 40 s after scheduling begins; the rest are due a week later
// and stay pending throughout. The timers are set as HandleEvent sets them
// (the wait's latest start recorded in TRIGGER_STATE, then the message
// schedule through the engine's own TimerScheduler) but from 32 goroutines
// rather than through 100,000 journey events, to keep the set-up short;
// their firing is measured end to end: from each timer's moment to the
// broker routing the trigger.fired event the engine publishes after the
// survey invitation.
//
// Reported: late-p50-ms, late-p99-ms, late-max-ms over the timers that fell
// due; due/s, the rate at which they fell due, and fired/s, the rate they
// fired at; heap-bytes/timer (and live-bytes/timer), the growth of the Go
// heap in use (live) after GC from before scheduling the 100,000 to right
// after it, nats-server being in this process; settled-heap-bytes/timer,
// the same growth read again just before the first moment, once
// nats-server has dropped its caches of the blocks just written;
// stream-bytes/timer, the TRIGGER_TIMERS stream's bytes per pending timer;
// state-bytes/timer, what the TRIGGER_STATE bucket grew by per timer (each
// wait's latest start); sched/s, the set-up rate. One operation is the
// whole 100,000, so -benchtime 1x runs it once.
//
//   - 20000-due-in-30s: 667 timers fall due a second.
//   - 2000-due-in-40s: 50 a second.
func BenchmarkPendingTimers(b *testing.B) {
	for _, c := range []struct {
		name   string
		due    int
		window time.Duration
	}{
		{"20000-due-in-30s", 20_000, 30 * time.Second},
		{"2000-due-in-40s", 2_000, 40 * time.Second},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := benchPendingCount(b)
			due := min(c.due, n)
			r := benchPackRule(b, "csat-after-delivery")
			e := newBenchEnv(b, []rule.Rule{r})
			obs := e.observe(b, "", nil)
			stream, err := e.nats.JS.Stream(context.Background(), topology.TriggerTimers)
			if err != nil {
				b.Fatal(err)
			}
			// The bucket's stream: each wait's latest start is kept there.
			stateStream, err := e.nats.JS.Stream(context.Background(), "KV_"+topology.TriggerState)
			if err != nil {
				b.Fatal(err)
			}
			delay := time.Duration(r.Delay)
			var late []time.Duration
			var heapPer, livePer, settledPer, streamPer, statePer, schedRate float64
			var busy time.Duration
			b.ResetTimer()
			for op := 0; op < b.N; op++ {
				phase := "t" + strconv.Itoa(op)
				inuse0, live0 := benchHeapInUse()
				state0 := benchStreamBytes(b, stateStream)
				begin := time.Now()
				first := begin.Add(benchTimerLead)
				step := c.window / time.Duration(due)
				moment := func(i int) time.Time {
					if i < due {
						return first.Add(time.Duration(i) * step)
					}
					return first.Add(benchTimerLater + time.Duration(i)*time.Second)
				}
				s := newBenchSamples(phase, due, false, moment)
				obs.cur.Store(s)

				jobs := make(chan int, benchTimerSchedulers)
				var fail benchFailure
				var wg sync.WaitGroup
				for range benchTimerSchedulers {
					wg.Go(func() {
						for i := range jobs {
							if err := e.schedule(benchTimer(r, phase, i, moment(i), delay)); err != nil {
								fail.set(err)
							}
						}
					})
				}
				for i := range n {
					jobs <- i
				}
				close(jobs)
				wg.Wait()
				scheduled := time.Now()
				fail.check(b)
				info, err := stream.Info(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				inuse1, live1 := benchHeapInUse()
				if now := time.Now(); now.After(first) {
					b.Fatalf("scheduling %d timers took %v, past the first moment: raise benchTimerLead", n, now.Sub(begin))
				}
				if info.State.Msgs != uint64(n) {
					b.Fatalf("TRIGGER_TIMERS holds %d messages after scheduling %d timers", info.State.Msgs, n)
				}
				schedRate = float64(n) / scheduled.Sub(begin).Seconds()
				heapPer = (float64(inuse1) - float64(inuse0)) / float64(n)
				livePer = (float64(live1) - float64(live0)) / float64(n)
				streamPer = float64(info.State.Bytes) / float64(n)
				statePer = (float64(benchStreamBytes(b, stateStream)) - float64(state0)) / float64(n)
				// Read again just before the first moment, once nats-server
				// has let go of the caches of the blocks just written: what
				// the pending timers hold while they wait.
				time.Sleep(time.Until(first.Add(-time.Second)))
				inuse2, live2 := benchHeapInUse()
				if now := time.Now(); now.After(first) || now.Sub(scheduled) < 11*time.Second {
					b.Fatalf("the settled memory reading came %v after scheduling ended: raise benchTimerLead", now.Sub(scheduled))
				}
				settledPer = (float64(inuse2) - float64(inuse0)) / float64(n)
				b.Logf("%d timers scheduled in %v; heap in use %d -> %d -> %d MiB, live %d -> %d -> %d MiB (before, after, settled); TRIGGER_TIMERS %d messages, %d bytes",
					n, scheduled.Sub(begin).Round(time.Millisecond), inuse0>>20, inuse1>>20, inuse2>>20, live0>>20, live1>>20, live2>>20, info.State.Msgs, info.State.Bytes)

				got, _, ok := s.wait()
				obs.check(b)
				if !ok {
					b.Fatalf("%d of %d timers fired; none for %v", got, due, benchStall)
				}
				if s.suppressed > 0 {
					b.Fatalf("%d firings suppressed; every customer is distinct", s.suppressed)
				}
				b.Logf("last firing %v after the last moment", s.last.Sub(moment(due-1)).Round(time.Millisecond))
				late = append(late, s.fired...)
				busy += s.last.Sub(first)
			}
			b.StopTimer()
			b.ReportMetric(float64(due)/c.window.Seconds(), "due/s")
			b.ReportMetric(float64(len(late))/busy.Seconds(), "fired/s")
			b.ReportMetric(schedRate, "sched/s")
			benchQuantiles(b, late, "late-", 50, 99)
			b.ReportMetric(late[len(late)-1].Seconds()*1000, "late-max-ms")
			b.ReportMetric(heapPer, "heap-bytes/timer")
			b.ReportMetric(livePer, "live-bytes/timer")
			b.ReportMetric(settledPer, "settled-heap-bytes/timer")
			b.ReportMetric(streamPer, "stream-bytes/timer")
			b.ReportMetric(statePer, "state-bytes/timer")
		})
	}
}

// schedule sets t as the engine does: it records t's cause as the latest
// start of its wait, then sets the message schedule.
func (e *benchEnv) schedule(t app.Timer) error {
	ctx := context.Background()
	latest, err := e.state.Advance(ctx, t.Tenant, t.Key, t.Cause.OccurredAt)
	if err != nil {
		return err
	}
	if !latest {
		return fmt.Errorf("timer %s: a later start is recorded", t.Key)
	}
	return e.timers.Schedule(ctx, t)
}

// benchStreamBytes is what a stream stores, in bytes.
func benchStreamBytes(b *testing.B, s jetstream.Stream) uint64 {
	b.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Bytes
}

// benchTimer is the timer HandleEvent sets for an order.delivered event of
// customer i: its key has the engine's form, <rule>.<customer key>.<hash of
// the correlation>, and its cause is the delivery, delay before at.
func benchTimer(r rule.Rule, phase string, i int, at time.Time, delay time.Duration) app.Timer {
	order := "ord-" + phase + "-" + strconv.Itoa(i)
	customer := benchCustomer(phase, i)
	delivered := &journeyv1.JourneyEvent{Id: "dlv-" + benchRunID + "-" + phase + "-" + strconv.Itoa(i), Tenant: benchTenant, Type: "order.delivered", Source: "api",
		Customer:   &journeyv1.Customer{CustomerId: customer, Email: customer + "@example.com"},
		OccurredAt: timestamppb.New(at.Add(-delay)), ReceivedAt: timestamppb.New(at.Add(-delay)),
		Payload: &journeyv1.JourneyEvent_OrderDelivered{OrderDelivered: &journeyv1.OrderDelivered{OrderId: order}}}
	cause, err := ports.ToEvent(delivered)
	if err != nil {
		panic(err) // a fixed, valid event
	}
	sum := sha256.Sum256([]byte("k" + order))
	key := r.ID + "." + cause.Customer.Key() + "." + hex.EncodeToString(sum[:8])
	return app.Timer{Key: key, Tenant: benchTenant, RuleID: r.ID, Version: r.Version, Customer: cause.Customer, Cause: cause, At: at}
}
