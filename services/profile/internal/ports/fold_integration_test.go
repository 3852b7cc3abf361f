package ports_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/profile/internal/adapters"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
	"github.com/bazgasht/bazgasht/services/profile/internal/ports"
)

// svc is the profile service's fold and API over a real in-process
// nats-server and the real Redis.
type svc struct {
	nats   *natstest.Server
	pub    *journeystream.Publisher
	api    *ports.GRPC
	repo   *adapters.KVRepository
	folder *app.ApplyEventsHandler
	rules  profile.Rules
	// profileWrites counts the profiles the fold has committed.
	profileWrites atomic.Int64
	// batch is the most events the fold takes at once (200 when 0).
	batch int
	// hold, when set, lets timeline-only changes wait that long by clock.
	hold  time.Duration
	clock *manualClock
	// failCommits makes the next commits fail, as a broker outage would;
	// of failTenant only, when set.
	failCommits atomic.Int64
	failTenant  string
	// cachePrefix keeps this test's Redis keys apart; a restart keeps it.
	cachePrefix string
	cancel      context.CancelFunc
	done        chan error
}

var testRules = profile.Rules{NewFor: 30 * 24 * time.Hour, AtRiskAfter: 60 * 24 * time.Hour, ChurnAfter: 90 * 24 * time.Hour,
	VIPRevenue: profile.Amounts{"IRT": "2000000"}}

func start(t *testing.T, dupWindow time.Duration, opts ...func(*svc)) *svc {
	t.Helper()
	srv := natstest.Start(t)
	ctx := context.Background()
	set := topology.Profile(topology.Options{DuplicateWindow: dupWindow})
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatal(err)
	}
	s := &svc{nats: srv, rules: testRules}
	for _, o := range opts {
		o(s)
	}
	s.run(t)
	return s
}

// holding lets timeline-only changes wait hold, by the returned clock.
func holding(hold time.Duration, c *manualClock) func(*svc) {
	return func(s *svc) { s.hold, s.clock = hold, c }
}

// manualClock is a time that moves only when told.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *manualClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// run starts (or restarts) the fold and the API over the current bucket.
func (s *svc) run(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	rc := redistest.Client(t)
	rdb, err := redisconn.New(redistest.URL(), redisconn.CacheTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if s.cachePrefix == "" {
		s.cachePrefix = redistest.Prefix(t, rc)
	}
	epoch, err := adapters.StoreEpoch(ctx, s.nats.JS) // as the service does
	if err != nil {
		t.Fatal(err)
	}
	cache, err := adapters.NewRedisCache(rdb, time.Minute, slog.New(slog.DiscardHandler), adapters.WithCacheKeyPrefix(s.cachePrefix+epoch+":"))
	if err != nil {
		t.Fatal(err)
	}
	if s.repo, err = adapters.NewKVRepository(ctx, s.nats.JS, 5*time.Second, 1000); err != nil {
		t.Fatal(err)
	}
	if s.pub, err = journeystream.NewPublisher(s.nats.NC, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	events, err := adapters.NewJourneyEvents(ctx, s.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	var opts []app.HandlerOption
	if s.hold > 0 {
		opts = append(opts, app.WithTimelineHold(s.hold, s.clock.now))
	}
	folder, err := app.NewApplyEventsHandler(countingRepo{s.repo, &s.profileWrites, &s.failCommits, s.failTenant}, adapters.NewSegmentPublisher(s.pub, ports.ToDomain),
		adapters.NewEventSource(events, ports.ToDomain), cache, s.rules, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.folder = folder
	q, err := app.NewQueries(s.repo, cache, s.rules, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if s.api, err = ports.NewGRPC(q, events); err != nil {
		t.Fatal(err)
	}
	cons, err := s.nats.JS.Consumer(ctx, topology.Journey, topology.ProfileConsumer)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	s.cancel, s.done = cancel, make(chan error, 3)
	cfg := journeystream.ConsumeConfig{Durable: topology.ProfileConsumer, MaxDeliver: topology.ProfileMaxDeliver, Batch: cmp.Or(s.batch, 200), MaxWait: 50 * time.Millisecond, RetryDelay: 50 * time.Millisecond}
	go func() { s.done <- cache.Run(cctx) }()
	go func() {
		err := journeystream.Consume(cctx, s.nats.JS, cons, cfg, ports.FoldHandler(folder), slog.New(slog.DiscardHandler))
		if ferr := folder.FlushHeld(context.Background(), true); ferr != nil { // as the service does when it stops
			err = errors.Join(err, ferr)
		}
		s.done <- err
	}()
	go func() { s.done <- folder.RunHeldFlusher(cctx) }()
	t.Cleanup(s.stop)
}

// countingRepo counts the profiles each commit writes, and fails commits
// when asked to.
type countingRepo struct {
	profile.Repository
	n          *atomic.Int64
	fail       *atomic.Int64
	failTenant string
}

func (r countingRepo) Commit(ctx context.Context, tenant string, c profile.Changes) ([]profile.Stored, error) {
	if r.failTenant == "" || r.failTenant == tenant {
		if r.fail.Add(-1) >= 0 {
			return nil, errors.New("injected: the store did not answer")
		}
		r.fail.Store(0)
	}
	stored, err := r.Repository.Commit(ctx, tenant, c)
	r.n.Add(int64(len(stored)))
	return stored, err
}

func (s *svc) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		<-s.done
		<-s.done
		s.cancel = nil
	}
}

// publish stores events as ingest would and returns their stream sequences.
func (s *svc) publish(t *testing.T, evs ...*journeyv1.JourneyEvent) {
	t.Helper()
	for i, a := range s.pub.Publish(context.Background(), evs) {
		if a.Err != nil {
			t.Fatalf("publish %s: %v", evs[i].GetId(), a.Err)
		}
	}
}

// settled waits until the profile consumer has processed everything the
// stream holds.
func (s *svc) settled(t *testing.T) {
	t.Helper()
	poll.Until(t, 15*time.Second, "the profile consumer settles", s.isSettled)
}

// isSettled reports whether the profile consumer has acknowledged
// everything the stream holds.
func (s *svc) isSettled() bool {
	ctx := context.Background()
	st, err := s.nats.JS.Stream(ctx, topology.Journey)
	if err != nil {
		return false
	}
	si, err1 := st.Info(ctx)
	c, err := s.nats.JS.Consumer(ctx, topology.Journey, topology.ProfileConsumer)
	if err != nil {
		return false
	}
	ci, err2 := c.Info(ctx)
	return err1 == nil && err2 == nil && ci.AckFloor.Stream >= si.State.LastSeq && ci.NumAckPending == 0 && ci.NumPending == 0
}

func (s *svc) get(t *testing.T, tenant string, ref *profilev1.CustomerRef) *profilev1.Profile {
	t.Helper()
	resp, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: tenant, Customer: ref})
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	return resp.GetProfile()
}

func byCustomer(id string) *profilev1.CustomerRef {
	return &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{CustomerId: id}}}
}

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

func at(h int) *timestamppb.Timestamp { return timestamppb.New(t0.Add(time.Duration(h) * time.Hour)) }

func ev(tenant, id, typ string, cust *journeyv1.Customer, h int) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Tenant: tenant, Type: typ, Customer: cust, OccurredAt: at(h), ReceivedAt: timestamppb.Now(), Source: "api"}
}

func placed(tenant, id, cust, order, amount string, h int) *journeyv1.JourneyEvent {
	e := ev(tenant, id, "order.placed", &journeyv1.Customer{CustomerId: cust}, h)
	e.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: &journeyv1.OrderPlaced{OrderId: order,
		Total: &journeyv1.Money{Currency: "IRT", Amount: amount},
		Items: []*journeyv1.LineItem{{Product: &journeyv1.Product{ProductId: "tea-" + order, Category: "tea"}, Quantity: 1}}}}
	return e
}

func TestFoldBuildsTheProfileAnAgentReads(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	sara := &journeyv1.Customer{CustomerId: "c-sara", Email: "Sara@Example.com"}
	view := ev("demo", "v1", "product.viewed", &journeyv1.Customer{AnonymousId: "anon-1"}, 0)
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "saffron", Name: "Saffron tea"}}}
	signup := ev("demo", "u1", "customer.updated", &journeyv1.Customer{CustomerId: "c-sara", Email: "sara@example.com", AnonymousId: "anon-1"}, 1)
	signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "سارا", Locale: "fa", TimeZone: "Asia/Tehran",
		PreferredChannel: journeyv1.Channel_CHANNEL_SMS, Consents: []*journeyv1.Consent{{Channel: journeyv1.Channel_CHANNEL_SMS, Granted: true}}}}
	ticket := ev("demo", "t1", "ticket.opened", sara, 30)
	ticket.Payload = &journeyv1.JourneyEvent_TicketOpened{TicketOpened: &journeyv1.TicketOpened{TicketId: "77", Topic: "delivery"}}
	nps := ev("demo", "s1", "survey.responded", sara, 40)
	nps.Payload = &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: "nps", Kind: journeyv1.SurveyKind_SURVEY_KIND_NPS, Score: 3}}
	// Sara browses anonymously and, separately, orders as a known customer;
	// signing up reveals both are her: the visit merges into the customer.
	s.publish(t, view, placed("demo", "o1", "c-sara", "1001", "960000", 2), signup, placed("demo", "o2", "c-sara", "1002", "1250000.50", 20), ticket, nps)
	s.settled(t)

	p := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{Email: "SARA@example.com"}}})
	if got := p.GetIdentities().GetAnonymousIds(); len(got) != 1 || got[0] != "anon-1" {
		t.Errorf("anonymous visit not merged into the known customer: %v", got)
	}
	if p.GetTraits().GetFirstName() != "سارا" || p.GetTraits().GetLocale() != "fa" || p.GetTraits().GetPreferredChannel() != journeyv1.Channel_CHANNEL_SMS {
		t.Errorf("traits = %v", p.GetTraits())
	}
	c := p.GetCommerce()
	if c.GetOrderCount() != 2 || len(c.GetByCurrency()) != 1 || c.GetByCurrency()[0].GetRevenue().GetAmount() != "2210000.5" {
		t.Errorf("commerce = %v, want 2 orders, revenue 2210000.5 IRT", c)
	}
	if len(c.GetViewedNotBought()) != 1 || c.GetViewedNotBought()[0].GetProduct().GetProductId() != "saffron" {
		t.Errorf("viewed not bought = %v", c.GetViewedNotBought())
	}
	if p.GetSupport().GetOpenTickets() != 1 || p.GetSupport().GetLastTicketTopic() != "delivery" {
		t.Errorf("support = %v", p.GetSupport())
	}
	if p.GetFeedback().GetNpsCategory() != profilev1.NpsCategory_NPS_CATEGORY_DETRACTOR {
		t.Errorf("NPS category = %v", p.GetFeedback().GetNpsCategory())
	}
	if !contains(p.GetSegments(), "vip") || !contains(p.GetSegments(), "detractor") {
		t.Errorf("segments = %v, want vip and detractor", p.GetSegments())
	}

	tl, err := s.api.GetTimeline(context.Background(), &profilev1.GetTimelineRequest{Tenant: "demo", Customer: byCustomer("c-sara"), PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ids := eventIDs(tl.GetEvents()); len(ids) != 3 || tl.GetNextPageToken() == "" {
		t.Fatalf("first timeline page = %v (next %q), want 3 events and a next page", ids, tl.GetNextPageToken())
	}
	if tl.GetEvents()[0].GetOccurredAt().AsTime().Before(tl.GetEvents()[2].GetOccurredAt().AsTime()) {
		t.Errorf("timeline is not newest first: %v", eventIDs(tl.GetEvents()))
	}

	merges, err := s.api.ListMerges(context.Background(), &profilev1.ListMergesRequest{Tenant: "demo", Customer: byCustomer("c-sara")})
	if err != nil {
		t.Fatal(err)
	}
	if len(merges.GetMerges()) != 1 || merges.GetMerges()[0].GetReason() != profilev1.MergeReason_MERGE_REASON_IDENTIFIED || merges.GetMerges()[0].GetCauseEventId() != "u1" {
		t.Fatalf("merges = %v, want one 'identified' merge caused by u1", merges.GetMerges())
	}
	// The anonymous profile's id leads to the survivor.
	old := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_ProfileId{ProfileId: merges.GetMerges()[0].GetMergedProfileId()}})
	if old.GetProfileId() != p.GetProfileId() {
		t.Fatalf("merged profile id answers %s, want the survivor %s", old.GetProfileId(), p.GetProfileId())
	}

	vip, err := s.api.ListSegmentMembers(context.Background(), &profilev1.ListSegmentMembersRequest{Tenant: "demo", Segment: "vip"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vip.GetMembers()) != 1 || vip.GetMembers()[0].GetCustomer().GetCustomerId() != "c-sara" {
		t.Fatalf("vip members = %v", vip.GetMembers())
	}
	// Entering the segments was announced once each, as journey events.
	for _, seg := range []string{"vip", "detractor"} {
		if n := countSegmentEvents(t, s, "demo", "segment.entered", seg); n != 1 {
			t.Errorf("segment.entered %s announced %d times, want 1", seg, n)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func eventIDs(evs []*journeyv1.JourneyEvent) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.GetId())
	}
	return ids
}

func countSegmentEvents(t *testing.T, s *svc, tenant, typ, segment string) int {
	t.Helper()
	ctx := context.Background()
	c, err := s.nats.JS.OrderedConsumer(ctx, topology.Journey, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"cx." + tenant + ".journey." + typ}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		msgs, err := c.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			e := &journeyv1.JourneyEvent{}
			_ = protoUnmarshal(m.Data(), e)
			if e.GetSegmentEntered().GetSegment() == segment || e.GetSegmentExited().GetSegment() == segment {
				n++
			}
		}
		if got == 0 {
			return n
		}
	}
}

func TestLateDuplicateHasOneEffect(t *testing.T) {
	t.Parallel()
	// A one-second duplicate window stands in for JetStream's two minutes:
	// the duplicate below arrives after it, as a week-late one would.
	s := start(t, time.Second)
	order := placed("demo", "o-late", "c-1", "2001", "500000", 0)
	s.publish(t, order)
	s.settled(t)
	before := s.get(t, "demo", byCustomer("c-1"))

	poll.Until(t, 10*time.Second, "JetStream stores the event again past its window", func() bool {
		a := s.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{order})[0]
		if a.Err != nil {
			t.Fatal(a.Err)
		}
		return !a.Duplicate // stored again: JetStream no longer remembered the id
	})
	s.settled(t)
	after := s.get(t, "demo", byCustomer("c-1"))
	if after.GetCommerce().GetOrderCount() != 1 || after.GetRevision() != before.GetRevision() {
		t.Fatalf("late duplicate changed the profile: orders %d (want 1), revision %d -> %d",
			after.GetCommerce().GetOrderCount(), before.GetRevision(), after.GetRevision())
	}
}

func TestEventTimeDecidesWhateverTheArrivalOrder(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	traits := func(id, locale string, h int) *journeyv1.JourneyEvent {
		e := ev("demo", id, "customer.updated", &journeyv1.Customer{CustomerId: "c-imp"}, h)
		e.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{Locale: locale}}
		return e
	}
	cancelled := ev("demo", "x1", "order.cancelled", &journeyv1.Customer{CustomerId: "c-imp"}, 5)
	cancelled.Payload = &journeyv1.JourneyEvent_OrderCancelled{OrderCancelled: &journeyv1.OrderCancelled{OrderId: "3002"}}
	// An imported history, newest first: the later locale must win, and the
	// cancellation that arrives before its order still cancels it.
	s.publish(t, traits("tr2", "fa", 100), cancelled, placed("demo", "p2", "c-imp", "3002", "700000", 4), traits("tr1", "en", 1), placed("demo", "p1", "c-imp", "3001", "300000", 0))
	s.settled(t)
	p := s.get(t, "demo", byCustomer("c-imp"))
	if p.GetTraits().GetLocale() != "fa" {
		t.Errorf("locale = %q, want fa (the later event by event time)", p.GetTraits().GetLocale())
	}
	c := p.GetCommerce()
	if c.GetOrderCount() != 2 || c.GetCancellationCount() != 1 || c.GetByCurrency()[0].GetRevenue().GetAmount() != "300000" {
		t.Errorf("commerce = %v, want 2 orders, 1 cancelled, revenue 300000", c)
	}
	if !c.GetFirstOrderAt().AsTime().Equal(t0) {
		t.Errorf("first order at %v, want %v", c.GetFirstOrderAt().AsTime(), t0)
	}
}

// An announcement is folded into its profile when it is published; its copy
// coming back through the stream is a duplicate and not written again. The
// timeline still shows it, read back from the stream by its sequence.
func TestSegmentAnnouncementsAreNotWrittenTwice(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.publish(t, placed("demo", "o-vip", "c-vip", "3001", "2500000", 0)) // enters new, vip
	s.settled(t)
	if n := countSegmentEvents(t, s, "demo", "segment.entered", "vip"); n != 1 {
		t.Fatalf("segment.entered vip announced %d times, want 1", n)
	}
	if n := s.profileWrites.Load(); n != 1 {
		t.Errorf("the profile was written %d times for one event, want 1 (the announcements' copies are duplicates)", n)
	}
	tl, err := s.api.GetTimeline(context.Background(), &profilev1.GetTimelineRequest{Tenant: "demo", Customer: byCustomer("c-vip"), Types: []string{"segment.entered"}})
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, e := range tl.GetEvents() {
		segs = append(segs, e.GetSegmentEntered().GetSegment())
	}
	if !contains(segs, "vip") {
		t.Fatalf("timeline segment.entered events = %v (ids %v), want vip among them", segs, eventIDs(tl.GetEvents()))
	}
}

// A customer seen on two devices has two anonymous ids; an announcement's
// copy, or a late duplicate, names only some of them. Neither writes the
// profile again.
func TestDuplicatesNamingSomeIdentitiesWriteNothing(t *testing.T) {
	t.Parallel()
	s := start(t, time.Second) // a short duplicate window, so a late duplicate is stored
	phone := placed("demo", "o-2dev", "c-2dev", "4001", "2500000", 0)
	phone.Customer.AnonymousId = "a-phone"
	laptop := ev("demo", "v-2dev", "product.viewed", &journeyv1.Customer{CustomerId: "c-2dev", AnonymousId: "a-laptop"}, 1)
	laptop.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p-2dev"}}}
	s.publish(t, phone)
	s.settled(t)
	s.publish(t, laptop)
	s.settled(t)
	if ids := s.get(t, "demo", byCustomer("c-2dev")).GetIdentities().GetAnonymousIds(); len(ids) != 2 {
		t.Fatalf("anonymous ids = %v, want both devices", ids)
	}
	before := s.profileWrites.Load()

	poll.Until(t, 10*time.Second, "JetStream stores the order again past its window", func() bool {
		a := s.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{phone})[0]
		if a.Err != nil {
			t.Fatal(a.Err)
		}
		return !a.Duplicate
	})
	s.settled(t)
	if after := s.profileWrites.Load(); after != before {
		t.Fatalf("a late duplicate naming one of the customer's two devices wrote the profile %d more times, want 0", after-before)
	}
}

func TestReplayRebuildsIdenticalProfiles(t *testing.T) {
	t.Parallel()
	// A one-second duplicate window: the replay below publishes the segment
	// announcements again after it, as a replay days later would, so they
	// are stored a second time; the profiles must still point at the first.
	s := start(t, time.Second)
	nps := ev("demo", "n1", "survey.responded", &journeyv1.Customer{CustomerId: "c-r"}, 3)
	nps.Payload = &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: "nps", Kind: journeyv1.SurveyKind_SURVEY_KIND_NPS, Score: 10}}
	view := ev("demo", "v1", "product.viewed", &journeyv1.Customer{AnonymousId: "a-r"}, 0)
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p9"}}}
	link := ev("demo", "l1", "customer.updated", &journeyv1.Customer{CustomerId: "c-r", AnonymousId: "a-r"}, 1)
	link.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Reza"}}
	s.publish(t, view, link, placed("demo", "o1", "c-r", "1", "2500000", 2), nps, placed("demo", "o2", "c-other", "2", "100", 2))
	s.settled(t)
	first := storedProfiles(t, s)
	probe := ev("probe", "window", "product.viewed", &journeyv1.Customer{AnonymousId: "probe"}, 0)
	s.publish(t, probe) // after the announcements: when its id is forgotten, theirs are
	poll.Until(t, 10*time.Second, "JetStream forgets the announcements' ids", func() bool {
		a := s.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{probe})[0]
		if a.Err != nil {
			t.Fatal(a.Err)
		}
		return !a.Duplicate
	})

	// Rebuild: stop the fold, drop the store and the consumer, start again
	// from the first event of JOURNEY.
	s.stop()
	ctx := context.Background()
	if err := s.nats.JS.DeleteKeyValue(ctx, topology.ProfileBucket); err != nil {
		t.Fatal(err)
	}
	if err := s.nats.JS.DeleteConsumer(ctx, topology.Journey, topology.ProfileConsumer); err != nil {
		t.Fatal(err)
	}
	if err := topology.Ensure(ctx, s.nats.JS, s.nats.NC.ConnectedServerVersion(), topology.Profile(topology.Options{DuplicateWindow: time.Second})); err != nil {
		t.Fatal(err)
	}
	// One event at a time: each announcement is published again before its
	// first copy, further down the stream, is folded.
	s.batch = 1
	s.run(t)
	s.settled(t)
	second := storedProfiles(t, s)
	if len(first) != 2 || fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("replay built different profiles:\nfirst  %v\nsecond %v", first, second)
	}
}

// storedProfiles reads every stored profile as JSON, by id.
func storedProfiles(t *testing.T, s *svc) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, err := range s.repo.Profiles(context.Background(), "demo") {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(p)
		out[p.ID] = string(b)
	}
	return out
}

func TestPoisonMessagesAreDeadLetteredAndTheConsumerMovesOn(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	ctx := context.Background()
	if _, err := s.nats.JS.PublishMsg(ctx, &nats.Msg{Subject: "cx.demo.journey.order.placed", Data: []byte("not protobuf \xff\xfe"), Header: nats.Header{"Nats-Msg-Id": []string{"demo:garbage"}}}); err != nil {
		t.Fatal(err)
	}
	bad := ev("Not A Tenant", "b1", "order.placed", &journeyv1.Customer{CustomerId: "c"}, 0)
	data, _ := protoMarshal(bad)
	if _, err := s.nats.JS.PublishMsg(ctx, &nats.Msg{Subject: "cx.demo.journey.order.placed", Data: data}); err != nil {
		t.Fatal(err)
	}
	s.publish(t, placed("demo", "good", "c-good", "1", "10", 0))
	s.settled(t)
	if p := s.get(t, "demo", byCustomer("c-good")); p.GetCommerce().GetOrderCount() != 1 {
		t.Fatalf("the event after the poison ones was not applied")
	}
	dl, err := s.nats.JS.Stream(ctx, topology.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dl.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		if m.Subject != "cx.demo.deadletter.profile" || m.Header.Get(journeystream.HeaderDeadSubject) != "cx.demo.journey.order.placed" {
			t.Fatalf("dead letter on %s (from %s)", m.Subject, m.Header.Get(journeystream.HeaderDeadSubject))
		}
		reasons = append(reasons, m.Header.Get(journeystream.HeaderDeadReason))
	}
	if !containsPrefix(reasons[0], "undecodable") || !containsPrefix(reasons[1], "permanent failure: invalid journey event") {
		t.Fatalf("reasons = %q", reasons)
	}
}

func containsPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func TestTenantsNeverSeeEachOther(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.publish(t, placed("shop-a", "o1", "c-1", "1", "100", 0), placed("shop-b", "o1", "c-1", "1", "999", 0))
	s.settled(t)
	a := s.get(t, "shop-a", byCustomer("c-1"))
	b := s.get(t, "shop-b", byCustomer("c-1"))
	if a.GetProfileId() == b.GetProfileId() || a.GetCommerce().GetByCurrency()[0].GetRevenue().GetAmount() != "100" {
		t.Fatalf("tenants share a profile: a=%s b=%s", a.GetProfileId(), b.GetProfileId())
	}
	// shop-a guessing shop-b's profile id gets nothing.
	_, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: "shop-a",
		Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_ProfileId{ProfileId: b.GetProfileId()}}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("cross-tenant read = %v, want NotFound", err)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.publish(t, placed("demo", "o1", "c-1", "1", "100", 0))
	s.settled(t)
	cases := []struct {
		name string
		call func() error
		code codes.Code
		want string
	}{
		{"no identity", func() error {
			_, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: "demo", Customer: &profilev1.CustomerRef{}})
			return err
		}, codes.InvalidArgument, "customer"},
		{"no tenant", func() error {
			_, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Customer: byCustomer("c-1")})
			return err
		}, codes.InvalidArgument, "tenant"},
		{"unknown tenant", func() error {
			_, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: "nobody", Customer: byCustomer("c-1")})
			return err
		}, codes.NotFound, "tenant"},
		{"unknown customer", func() error {
			_, err := s.api.GetProfile(context.Background(), &profilev1.GetProfileRequest{Tenant: "demo", Customer: byCustomer("c-404")})
			return err
		}, codes.NotFound, "customer"},
		{"bad page token", func() error {
			_, err := s.api.GetTimeline(context.Background(), &profilev1.GetTimelineRequest{Tenant: "demo", Customer: byCustomer("c-1"), PageToken: "%%%"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"no segment", func() error {
			_, err := s.api.ListSegmentMembers(context.Background(), &profilev1.ListSegmentMembersRequest{Tenant: "demo"})
			return err
		}, codes.InvalidArgument, "segment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			st, _ := status.FromError(err)
			if st.Code() != tc.code || !containsPrefix(st.Message(), tc.want) {
				t.Fatalf("got %v %q, want %v naming %q", st.Code(), st.Message(), tc.code, tc.want)
			}
		})
	}
}

func TestTimePassingMovesCustomersAtRiskOnce(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.publish(t, placed("demo", "o1", "c-quiet", "1", "100", 0))
	s.settled(t)
	ctx := context.Background()
	// 61 days after the last order, with no event since.
	now := t0.Add(61 * 24 * time.Hour)
	for i := 0; i < 2; i++ {
		if _, err := s.folder.SweepSegments(ctx, s.repo.Refs, now); err != nil {
			t.Fatal(err)
		}
	}
	s.settled(t)
	if n := countSegmentEvents(t, s, "demo", "segment.entered", "at_risk"); n != 1 {
		t.Fatalf("segment.entered at_risk announced %d times, want once", n)
	}
	members, err := s.api.ListSegmentMembers(ctx, &profilev1.ListSegmentMembersRequest{Tenant: "demo", Segment: "at_risk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(members.GetMembers()) != 1 || !members.GetMembers()[0].GetEnteredAt().AsTime().Equal(t0.Add(60*24*time.Hour)) {
		t.Fatalf("at_risk members = %v, want c-quiet since day 60", members.GetMembers())
	}
}

func TestKPIsOverTheFoldedProfiles(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	tehran, _ := time.LoadLocation("Asia/Tehran")
	// 2026-09-22 is 1405-06-31; 2026-09-23 00:30 Tehran is 1405-07-01.
	late := placed("demo", "a1", "c-a", "1", "100000", 0)
	late.OccurredAt = timestamppb.New(time.Date(2026, 9, 22, 23, 0, 0, 0, tehran))
	early := placed("demo", "b1", "c-b", "2", "300000", 0)
	early.OccurredAt = timestamppb.New(time.Date(2026, 9, 23, 0, 30, 0, 0, tehran))
	again := placed("demo", "b2", "c-b", "3", "200000", 0)
	again.OccurredAt = timestamppb.New(time.Date(2026, 9, 30, 12, 0, 0, 0, tehran))
	s.publish(t, late, early, again)
	s.settled(t)
	resp, err := s.api.GetCommerceKPIs(context.Background(), &profilev1.GetCommerceKPIsRequest{Tenant: "demo", Period: &reportv1.Period{
		StartTime: timestamppb.New(time.Date(2026, 9, 1, 0, 0, 0, 0, tehran)), EndTime: timestamppb.New(time.Date(2026, 10, 15, 0, 0, 0, 0, tehran)),
		Granularity: reportv1.Granularity_GRANULARITY_MONTH, Calendar: reportv1.Calendar_CALENDAR_JALALI, TimeZone: "Asia/Tehran"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.GetPeriods() {
		rev := "0"
		if len(p.GetByCurrency()) > 0 {
			rev = p.GetByCurrency()[0].GetRevenue().GetAmount()
		}
		got = append(got, fmt.Sprintf("%s:%d orders,%s", p.GetBounds().GetLabel(), p.GetOrders(), rev))
	}
	want := "[1405-06:1 orders,100000 1405-07:2 orders,500000]"
	if fmt.Sprint(got) != want {
		t.Fatalf("Jalali months = %v, want %s", got, want)
	}
	if r := resp.GetTotal().GetRepeatPurchaseRate(); r != 0.5 {
		t.Fatalf("repeat-purchase rate = %v, want 0.5 (1 of 2 customers ordered twice)", r)
	}
	_, err = s.api.GetCommerceKPIs(context.Background(), &profilev1.GetCommerceKPIsRequest{Tenant: "demo", Period: &reportv1.Period{
		StartTime: timestamppb.New(t0), EndTime: timestamppb.New(t0.Add(-time.Hour)), Granularity: reportv1.Granularity_GRANULARITY_DAY}})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !containsPrefix(st.Message(), "period.end_time") {
		t.Fatalf("malformed period = %v, want InvalidArgument naming period.end_time", err)
	}
}

func TestTopSpendersBecomeVIP(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	// Restart the fold with "top 20% of spenders are VIP" and no threshold.
	s.stop()
	s.rules = profile.Rules{NewFor: testRules.NewFor, AtRiskAfter: testRules.AtRiskAfter, ChurnAfter: testRules.ChurnAfter, VIPTopPercent: 20}
	s.run(t)
	var evs []*journeyv1.JourneyEvent
	for i := 1; i <= 10; i++ {
		evs = append(evs, placed("demo", fmt.Sprintf("o%d", i), fmt.Sprintf("c-%d", i), fmt.Sprint(i), fmt.Sprint(i*100000), i))
	}
	s.publish(t, evs...)
	s.settled(t)
	if _, err := s.folder.SweepSegments(context.Background(), s.repo.Refs, t0.Add(20*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.settled(t)
	var vips []string
	for i := 1; i <= 10; i++ {
		if contains(s.get(t, "demo", byCustomer(fmt.Sprintf("c-%d", i))).GetSegments(), "vip") {
			vips = append(vips, fmt.Sprintf("c-%d", i))
		}
	}
	if fmt.Sprint(vips) != "[c-9 c-10]" {
		t.Fatalf("VIPs = %v, want the top 20%%: [c-9 c-10]", vips)
	}
	if n := countSegmentEvents(t, s, "demo", "segment.entered", "vip"); n != 2 {
		t.Fatalf("segment.entered vip announced %d times, want 2", n)
	}
	// A new big spender is VIP as soon as the order is folded: the stored
	// cut-off applies between sweeps.
	s.publish(t, placed("demo", "o-big", "c-big", "big", "5000000", 30))
	s.settled(t)
	if !contains(s.get(t, "demo", byCustomer("c-big")).GetSegments(), "vip") {
		t.Fatal("a customer above the cut-off is not VIP")
	}
}

// A caller reacting to an event reads the profile with that event in it:
// GetProfile with after_event_id waits for the fold, and the usual order
// size it then reads leaves the order being judged out.
func TestGetProfileAfterAnEventSeesTheEvent(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.publish(t, placed("shop", "o1", "c-1", "1", "100000", 1))
	req := func(after string) *profilev1.GetProfileRequest {
		return &profilev1.GetProfileRequest{Tenant: "shop", Customer: byCustomer("c-1"), AfterEventId: after}
	}
	// Asked before the second order is even published: the answer waits
	// for it.
	type answer struct {
		resp *profilev1.GetProfileResponse
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := s.api.GetProfile(context.Background(), req("o2"))
		got <- answer{resp, err}
	}()
	s.publish(t, placed("shop", "o2", "c-1", "2", "250000", 2))
	a := <-got
	if a.err != nil {
		t.Fatalf("GetProfile after o2: %v", a.err)
	}
	c := a.resp.GetProfile().GetCommerce()
	if c.GetOrderCount() != 2 {
		t.Fatalf("order count %d after o2, want 2", c.GetOrderCount())
	}
	irt := c.GetByCurrency()[0]
	if irt.GetAverageOrderValue().GetAmount() != "175000" || irt.GetPreviousAverageOrderValue().GetAmount() != "100000" {
		t.Fatalf("AOV %s, usual before the latest %s; want 175000 and 100000", irt.GetAverageOrderValue().GetAmount(), irt.GetPreviousAverageOrderValue().GetAmount())
	}
	// An event the fold never sees: told to retry, not handed a profile
	// without it.
	if _, err := s.api.GetProfile(context.Background(), req("never-published")); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "after_event_id") {
		t.Fatalf("GetProfile after an unknown event = %v, want UNAVAILABLE naming after_event_id", err)
	}
}

// A reader that looked a visitor up before they signed up finds the merged
// customer afterwards, by the same identity: the read path's memory of
// where an identity lives follows the merge.
func TestReadsByIdentityFollowAMerge(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	visitor := &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{AnonymousId: "anon-m"}}}
	view := ev("demo", "mv1", "product.viewed", &journeyv1.Customer{AnonymousId: "anon-m"}, 0)
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p-m"}}}
	s.publish(t, view, placed("demo", "mo1", "c-m", "m-1", "1000", 1))
	s.settled(t)
	before := s.get(t, "demo", visitor)
	if before.GetCommerce().GetOrderCount() != 0 {
		t.Fatalf("the visitor has orders before signing up: %v", before.GetCommerce())
	}

	signup := ev("demo", "mu1", "customer.updated", &journeyv1.Customer{CustomerId: "c-m", AnonymousId: "anon-m"}, 2)
	signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Mina"}}
	s.publish(t, signup)
	s.settled(t)
	known := s.get(t, "demo", byCustomer("c-m"))
	for i := range 2 {
		after := s.get(t, "demo", visitor)
		if after.GetProfileId() != known.GetProfileId() || after.GetCommerce().GetOrderCount() != 1 || after.GetTraits().GetFirstName() != "Mina" {
			t.Fatalf("read %d by the visitor's id after the merge: profile %s with %d orders, name %q; want %s with 1 order, Mina",
				i+1, after.GetProfileId(), after.GetCommerce().GetOrderCount(), after.GetTraits().GetFirstName(), known.GetProfileId())
		}
	}
}

// A merge whose commit stopped before deleting the absorbed profile leaves
// it in the store (its identities already lead to the survivor). It is not
// counted by the KPIs, and the next segment sweep deletes it, so its id
// leads to the survivor again.
func TestAnAbsorbedProfileLeftBehindIsCleanedUp(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	ctx := context.Background()
	view := ev("demo", "ov1", "product.viewed", &journeyv1.Customer{AnonymousId: "anon-o"}, 0)
	view.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "p-o"}}}
	s.publish(t, view, placed("demo", "oo1", "c-o", "o-1", "1000", 1))
	s.settled(t)
	visitor := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{AnonymousId: "anon-o"}}})
	kv, err := s.nats.JS.KeyValue(ctx, topology.ProfileBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := "demo.p." + visitor.GetProfileId()
	stored, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	signup := ev("demo", "ou1", "customer.updated", &journeyv1.Customer{CustomerId: "c-o", AnonymousId: "anon-o"}, 2)
	signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Omid"}}
	s.publish(t, signup)
	s.settled(t)
	survivor := s.get(t, "demo", byCustomer("c-o"))
	if survivor.GetProfileId() == visitor.GetProfileId() {
		t.Fatalf("the known customer's profile %s is the visitor's", survivor.GetProfileId())
	}
	// An absorbed profile that took an event its survivor lacks (an index
	// entry that still led to it): the sweep carries the event over, then
	// deletes it (TestEventsAnAbsorbedProfileTookAreCarriedOver shows the
	// effects folded; this event is not in the stream, so it is recorded).
	var live profile.Profile
	if err := json.Unmarshal(stored.Value(), &live); err != nil {
		t.Fatal(err)
	}
	live.Apply(profile.Event{ID: "ox-late", Type: "product.viewed", OccurredAt: t0.Add(5 * time.Hour), Seq: 999,
		Identities: []profile.Identity{{Kind: profile.AnonymousID, Value: "anon-o"}}, Product: &profile.Product{ID: "p-late"}})
	data, _ := json.Marshal(&live)
	if _, err := kv.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.folder.SweepSegments(ctx, s.repo.Refs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("after the sweep the absorbed profile that took an event is still stored: %v", err)
	}
	if p, err := s.repo.Load(ctx, "demo", survivor.GetProfileId()); err != nil || !p.HasApplied("ox-late") {
		t.Fatalf("the survivor did not take the event its absorbed profile took (err %v)", err)
	}

	// The commit's last phase "failed": the absorbed profile is back as it
	// was, every event of it held by the survivor.
	if _, err := kv.Put(ctx, key, stored.Value()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for p, err := range s.repo.Profiles(ctx, "demo") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if slices.Contains(ids, visitor.GetProfileId()) {
		t.Fatalf("profiles for the KPIs include the absorbed %s: %v", visitor.GetProfileId(), ids)
	}

	if _, err := s.folder.SweepSegments(ctx, s.repo.Refs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("after the sweep the absorbed profile is still stored: %v", err)
	}
	if got := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_ProfileId{ProfileId: visitor.GetProfileId()}}); got.GetProfileId() != survivor.GetProfileId() {
		t.Fatalf("the absorbed id answers %s, want the survivor %s", got.GetProfileId(), survivor.GetProfileId())
	}
}

// TestEventsAnAbsorbedProfileTookAreCarriedOver: a merge commit that stops
// after writing the survivor but before its index entries and the delete
// leaves an identity leading to the absorbed profile, which then takes the
// customer's next events. Nothing of them may be lost or counted twice when
// the merge is finished, by a later event naming both or by the sweep.
func TestEventsAnAbsorbedProfileTookAreCarriedOver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, finish string
		// email: the event the left-behind profile takes gives an email,
		// which makes it a known customer that Survivor could now prefer.
		email bool
	}{
		{"by an event", "event", false},
		{"by the sweep", "sweep", false},
		{"by an event, after the profile left behind learnt an email", "event", true},
	} {
		finish := tc.finish
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, 0)
			ctx := context.Background()
			view := func(id string, h int) *journeyv1.JourneyEvent {
				e := ev("demo", id, "product.viewed", &journeyv1.Customer{AnonymousId: "anon-v"}, h)
				e.Payload = &journeyv1.JourneyEvent_ProductViewed{ProductViewed: &journeyv1.ProductViewed{Product: &journeyv1.Product{ProductId: "rug", Category: "home"}}}
				return e
			}
			s.publish(t, view("v1", 0), view("v2", 1), placed("demo", "p1", "c-v", "o-1", "1000", 1))
			s.settled(t)
			visitor := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{AnonymousId: "anon-v"}}})
			kv, err := s.nats.JS.KeyValue(ctx, topology.ProfileBucket)
			if err != nil {
				t.Fatal(err)
			}
			before, err := kv.Get(ctx, "demo.p."+visitor.GetProfileId())
			if err != nil {
				t.Fatal(err)
			}
			signup := ev("demo", "u1", "customer.updated", &journeyv1.Customer{CustomerId: "c-v", AnonymousId: "anon-v"}, 2)
			signup.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{FirstName: "Vida"}}
			s.publish(t, signup)
			s.settled(t)
			survivor := s.get(t, "demo", byCustomer("c-v"))

			// Undo the commit's last two phases: the visitor's profile is
			// back and its identity leads to it again.
			if _, err := kv.Put(ctx, "demo.p."+visitor.GetProfileId(), before.Value()); err != nil {
				t.Fatal(err)
			}
			anon := profile.Identity{Kind: profile.AnonymousID, Value: "anon-v"}
			if _, err := kv.Put(ctx, "demo.i."+anon.Key(), []byte(visitor.GetProfileId())); err != nil {
				t.Fatal(err)
			}
			s.repo.Rollback() // what the fold remembers is what the store now says
			late := view("v3", 3)
			if tc.email {
				late.Customer.Email = "vida@example.com"
			}
			s.publish(t, late)
			s.settled(t)
			left, err := kv.Get(ctx, "demo.p."+visitor.GetProfileId())
			if err != nil {
				t.Fatal(err)
			}
			var leftBehind profile.Profile
			if err := json.Unmarshal(left.Value(), &leftBehind); err != nil {
				t.Fatal(err)
			}
			if !leftBehind.HasApplied("v3") {
				t.Fatalf("the set-up failed: the visitor's profile left behind did not take v3")
			}

			switch finish {
			case "event":
				buy := placed("demo", "p2", "c-v", "o-2", "500", 4)
				buy.Customer.AnonymousId = "anon-v"
				s.publish(t, buy)
				s.settled(t)
			case "sweep":
				if _, err := s.folder.SweepSegments(ctx, s.repo.Refs, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := kv.Get(ctx, "demo.p."+visitor.GetProfileId()); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatalf("the absorbed profile is still stored after the merge was finished: %v", err)
			}
			got := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{AnonymousId: "anon-v"}}})
			if got.GetProfileId() != survivor.GetProfileId() {
				t.Fatalf("the visitor's identity leads to %s, want the survivor %s", got.GetProfileId(), survivor.GetProfileId())
			}
			var views int64
			for _, v := range got.GetCommerce().GetViewedNotBought() {
				if v.GetProduct().GetProductId() == "rug" {
					views = v.GetViewCount()
				}
			}
			if views != 3 {
				t.Fatalf("the survivor counts %d views of the rug, want 3 (two before the merge, one after)", views)
			}
			tl, err := s.api.GetTimeline(ctx, &profilev1.GetTimelineRequest{Tenant: "demo", Customer: byCustomer("c-v")})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range tl.GetEvents() {
				ids = append(ids, e.GetId())
			}
			if n := len(slices.DeleteFunc(ids, func(id string) bool { return id != "v3" })); n != 1 {
				t.Fatalf("the survivor's timeline holds v3 %d times, want once", n)
			}
			ms, err := s.api.ListMerges(ctx, &profilev1.ListMergesRequest{Tenant: "demo", Customer: byCustomer("c-v")})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(ms.GetMerges()); n != 1 {
				t.Fatalf("the survivor lists %d merges, want the one", n)
			}
			if tc.email {
				byEmail := s.get(t, "demo", &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{Email: "vida@example.com"}}})
				if byEmail.GetProfileId() != survivor.GetProfileId() {
					t.Fatalf("the email leads to %s, want the survivor %s", byEmail.GetProfileId(), survivor.GetProfileId())
				}
			}
			if finish != "event" {
				// A sweep working from a list taken before the merge was
				// finished finds the absorbed profile gone: it must leave
				// the survivor be.
				stale := func(context.Context) ([]app.ProfileRef, error) {
					return []app.ProfileRef{{Tenant: "demo", ID: visitor.GetProfileId(), Absorbed: true}}, nil
				}
				if _, err := s.folder.SweepSegments(ctx, stale, time.Now()); err != nil {
					t.Fatal(err)
				}
				if p, err := s.repo.Load(ctx, "demo", survivor.GetProfileId()); err != nil || p.ID != survivor.GetProfileId() {
					t.Fatalf("after a sweep from a stale list the survivor is gone (err %v)", err)
				}
				return
			}
			// A replay of the stream, where nothing stopped short, builds
			// the very same profile.
			live := storedProfiles(t, s)
			s.stop()
			if err := s.nats.JS.DeleteKeyValue(ctx, topology.ProfileBucket); err != nil {
				t.Fatal(err)
			}
			if err := s.nats.JS.DeleteConsumer(ctx, topology.Journey, topology.ProfileConsumer); err != nil {
				t.Fatal(err)
			}
			if err := topology.Ensure(ctx, s.nats.JS, s.nats.NC.ConnectedServerVersion(), topology.Profile(topology.Options{})); err != nil {
				t.Fatal(err)
			}
			s.run(t)
			s.settled(t)
			if replayed := storedProfiles(t, s); replayed[survivor.GetProfileId()] != live[survivor.GetProfileId()] {
				t.Fatalf("the replay built a different profile:\nlive     %s\nreplayed %s", live[survivor.GetProfileId()], replayed[survivor.GetProfileId()])
			}
		})
	}
}

// waitUnacked waits until the fold holds n events and they are all the
// profile consumer has unacknowledged, with nothing left to deliver.
func (s *svc) waitUnacked(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	poll.Until(t, 15*time.Second, fmt.Sprintf("%d held events unacknowledged", n), func() bool {
		if s.folder.Held() != n {
			return false
		}
		c, err := s.nats.JS.Consumer(ctx, topology.Journey, topology.ProfileConsumer)
		if err != nil {
			return false
		}
		ci, err := c.Info(ctx)
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == n
	})
}

// settledHolding waits until everything is written and acknowledged,
// moving clock past each hold as it goes: an event dropped and delivered
// again is held anew, from the clock's time then.
func (s *svc) settledHolding(t *testing.T, clock *manualClock) {
	t.Helper()
	poll.Until(t, 15*time.Second, "everything written and acknowledged", func() bool {
		clock.advance(time.Second)
		return s.isSettled()
	})
}

// timeline lists the ids of a customer's events, segment changes aside,
// sorted.
func (s *svc) timeline(t *testing.T, customer string) []string {
	t.Helper()
	tl, err := s.api.GetTimeline(context.Background(), &profilev1.GetTimelineRequest{Tenant: "demo", Customer: byCustomer(customer)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range tl.GetEvents() {
		if !strings.HasPrefix(e.GetType(), "segment.") {
			ids = append(ids, e.GetId())
		}
	}
	slices.Sort(ids)
	return ids
}

// serviceEvent is an event Bazgasht's own services publish about the
// customer: it changes only the timeline.
func serviceEvent(id, typ, source, customer string, h int) *journeyv1.JourneyEvent {
	e := ev("demo", id, typ, &journeyv1.Customer{CustomerId: customer}, h)
	e.Source = source
	return e
}

// TestTimelineChangesAreHeldAndWrittenTogether: the three or four events
// Bazgasht's services publish per journey each changed only the timeline
// and each rewrote the whole profile. Held, they are written together —
// and stay unacknowledged until they are, so nothing acknowledged is lost.
func TestTimelineChangesAreHeldAndWrittenTogether(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	s := start(t, 0, holding(40*time.Millisecond, clock))
	s.publish(t, placed("demo", "h-o1", "c-h", "o-h1", "1000", 0))
	s.settled(t)
	writes := s.profileWrites.Load()

	// One at a time, so each comes in a batch of its own.
	for i, e := range []*journeyv1.JourneyEvent{
		serviceEvent("h-t1", "trigger.fired", "trigger", "c-h", 1),
		serviceEvent("h-s1", "survey.invited", "survey", "c-h", 1),
		serviceEvent("h-n1", "notification.sent", "notification", "c-h", 1),
	} {
		s.publish(t, e)
		s.waitUnacked(t, i+1)
	}
	if w := s.profileWrites.Load() - writes; w != 0 {
		t.Fatalf("held timeline events wrote the profile %d times before the hold ended", w)
	}
	if got := s.timeline(t, "c-h"); !slices.Equal(got, []string{"h-o1"}) {
		t.Fatalf("readers see %v before the held changes are written, want only what is stored: [h-o1]", got)
	}

	clock.advance(time.Second)
	s.settled(t)
	if w := s.profileWrites.Load() - writes; w != 1 {
		t.Fatalf("the three held events took %d profile writes, want 1", w)
	}
	if got, want := s.timeline(t, "c-h"), []string{"h-n1", "h-o1", "h-s1", "h-t1"}; !slices.Equal(got, want) {
		t.Fatalf("timeline after the hold %v, want %v", got, want)
	}

	// A change of the customer's own is written at once, and takes the
	// held ones with it.
	s.publish(t, serviceEvent("h-n2", "notification.sent", "notification", "c-h", 2))
	s.waitUnacked(t, 1)
	s.publish(t, placed("demo", "h-o2", "c-h", "o-h2", "500", 3))
	s.settled(t)
	if w := s.profileWrites.Load() - writes; w != 2 {
		t.Fatalf("an order after a held event took %d more profile writes, want 1 for both", w-1)
	}
	if got := s.timeline(t, "c-h"); !slices.Contains(got, "h-n2") || !slices.Contains(got, "h-o2") {
		t.Fatalf("timeline %v lacks the held event or the order written with it", got)
	}

	// Stopping writes what is held: nothing waits for the ack timeout.
	s.publish(t, serviceEvent("h-t2", "trigger.fired", "trigger", "c-h", 4))
	s.waitUnacked(t, 1)
	s.stop()
	p, err := s.repo.Load(context.Background(), "demo", s.get(t, "demo", byCustomer("c-h")).GetProfileId())
	if err != nil || !p.HasApplied("h-t2") {
		t.Fatalf("after a stop the held event is not stored (err %v)", err)
	}
	s.settled(t)
}

// TestHeldChangesSurviveAFailedCommit: a commit that fails drops every
// uncommitted change, the held ones too; their events, never acknowledged,
// are folded again and land once.
func TestHeldChangesSurviveAFailedCommit(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	s := start(t, 0, holding(40*time.Millisecond, clock))
	s.publish(t, placed("demo", "f-o1", "c-f", "o-f1", "1000", 0))
	s.settled(t)
	s.publish(t, serviceEvent("f-n1", "notification.sent", "notification", "c-f", 1))
	s.waitUnacked(t, 1)

	s.failCommits.Store(1)
	s.publish(t, placed("demo", "f-o2", "c-other", "o-f2", "700", 1)) // its commit fails
	poll.Until(t, 15*time.Second, "the failed commit", func() bool { return s.failCommits.Load() <= 0 })
	// The order is written on its retry; the notification, delivered again
	// after its retry delay, is held again until its hold ends.
	s.settledHolding(t, clock)
	if got := s.timeline(t, "c-f"); !slices.Equal(got, []string{"f-n1", "f-o1"}) {
		t.Fatalf("timeline %v, want the held event once beside the order: [f-n1 f-o1]", got)
	}
	if got := s.timeline(t, "c-other"); !slices.Equal(got, []string{"f-o2"}) {
		t.Fatalf("the other customer's timeline %v, want [f-o2]", got)
	}
}

// TestHeldChangesSurviveTheStoreForgettingTheirProfile: the repository
// forgets the profiles it remembers (for room, or on a rollback); a held
// change made to a forgotten copy must be folded again, never
// acknowledged as written.
func TestHeldChangesSurviveTheStoreForgettingTheirProfile(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	s := start(t, 0, holding(40*time.Millisecond, clock))
	s.publish(t, placed("demo", "z-o1", "c-z", "o-z1", "1000", 0))
	s.settled(t)
	s.publish(t, serviceEvent("z-n1", "notification.sent", "notification", "c-z", 1))
	s.waitUnacked(t, 1)
	s.repo.Rollback() // as trimming the fold's memory would
	s.settledHolding(t, clock)
	if got := s.timeline(t, "c-z"); !slices.Equal(got, []string{"z-n1", "z-o1"}) {
		t.Fatalf("timeline %v, want the held event kept: [z-n1 z-o1]", got)
	}
}

// TestHeldChangesOfOneTenantSurviveAnotherTenantsFailure: a batch with a
// held event of one tenant and a failing commit of another; the fold
// retries the failed tenant event by event and loses nothing of either.
func TestHeldChangesOfOneTenantSurviveAnotherTenantsFailure(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	s := start(t, 0, holding(40*time.Millisecond, clock))
	s.publish(t, placed("demo", "m-o1", "c-m", "o-m1", "1000", 0))
	s.settled(t)
	s.stop()
	// Both in one batch: demo's timeline event, then shop2's order, whose
	// first commit fails.
	s.publish(t, serviceEvent("m-n1", "notification.sent", "notification", "c-m", 1), placed("shop2", "m-o2", "c-m2", "o-m2", "700", 1))
	s.failCommits.Store(1)
	s.failTenant = "shop2"
	s.run(t)
	poll.Until(t, 15*time.Second, "the failed commit", func() bool { return s.failCommits.Load() <= 0 })
	s.settledHolding(t, clock)
	if got := s.timeline(t, "c-m"); !slices.Equal(got, []string{"m-n1", "m-o1"}) {
		t.Fatalf("demo's timeline %v, want [m-n1 m-o1]", got)
	}
	tl, err := s.api.GetTimeline(context.Background(), &profilev1.GetTimelineRequest{Tenant: "shop2", Customer: byCustomer("c-m2")})
	if err != nil || len(tl.GetEvents()) == 0 {
		t.Fatalf("shop2's order is not in its customer's timeline (err %v)", err)
	}
}

// TestAStoreResetLeavesNoStaleProfileOrTimeline: NATS data reset (or the
// bucket rebuilt) while Redis keeps its entries. The old profile's
// revisions are above the new store's, so without a fresh cache namespace
// readers were served the old profile until its TTL and the new writes
// were fenced out; and old timeline references pointed at other events.
func TestAStoreResetLeavesNoStaleProfileOrTimeline(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	ctx := context.Background()
	var old []*journeyv1.JourneyEvent
	for i := range 6 {
		old = append(old, placed("demo", fmt.Sprint("old-", i), "c-reset", fmt.Sprint("o-old-", i), "1000", i))
	}
	s.publish(t, old...)
	s.settled(t)
	if n := s.get(t, "demo", byCustomer("c-reset")).GetCommerce().GetOrderCount(); n != 6 {
		t.Fatalf("before the reset: %d orders, want 6", n)
	}

	s.stop()
	for _, name := range []string{topology.Journey, "KV_" + topology.ProfileBucket} {
		if err := s.nats.JS.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := topology.Ensure(ctx, s.nats.JS, s.nats.NC.ConnectedServerVersion(), topology.Profile(topology.Options{})); err != nil {
		t.Fatal(err)
	}
	s.run(t)
	s.publish(t, ev("demo", "other-1", "product.viewed", &journeyv1.Customer{CustomerId: "c-other"}, 0), placed("demo", "new-1", "c-reset", "o-new-1", "500", 1))
	s.settled(t)
	got := s.get(t, "demo", byCustomer("c-reset"))
	if n := got.GetCommerce().GetOrderCount(); n != 1 {
		t.Fatalf("after the reset the profile shows %d orders, want the 1 the new store holds", n)
	}
	if tl := s.timeline(t, "c-reset"); !slices.Equal(tl, []string{"new-1"}) {
		t.Fatalf("after the reset the timeline is %v, want [new-1]", tl)
	}
	// A reference taken before the reset (old-1 was at position 2, where
	// c-other's view now is) finds nothing rather than another event.
	events, err := adapters.NewJourneyEvents(ctx, s.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := events.Events(ctx, "demo", []profile.EventRef{{ID: "old-1", Seq: 2}, {ID: "other-1", Seq: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].GetId() != "other-1" {
		t.Fatalf("events read by stale and current references: %v, want only other-1", stale)
	}
	if wrong, err := events.Events(ctx, "shop2", []profile.EventRef{{ID: "other-1", Seq: 1}}); err != nil || len(wrong) != 0 {
		t.Fatalf("another tenant's reference read %v (err %v), want nothing", wrong, err)
	}
	// The same for events a late merge carries over.
	source := adapters.NewEventSource(events, ports.ToDomain)
	if got, err := source.EventsAt(ctx, "shop2", []uint64{1}); err != nil || len(got) != 0 {
		t.Fatalf("another tenant's events carried over: %v (err %v)", got, err)
	}
	if got, err := source.EventsAt(ctx, "demo", []uint64{1}); err != nil || got[1].ID != "other-1" {
		t.Fatalf("the tenant's own event at 1: %v (err %v), want other-1", got, err)
	}
}

// TestAFailingStoreIsNotWaitedOutEventByEvent: after a tenant's batch fails
// the fold retries its events one by one, so a poison event fails alone;
// but when the store itself is failing, every event would wait out the
// store's timeout in turn (a batch of 500 at 10 s each holds the fold for
// over an hour). A few failures in a row give the rest back at once.
func TestAFailingStoreIsNotWaitedOutEventByEvent(t *testing.T) {
	t.Parallel()
	s := start(t, 0)
	s.stop()
	ctx := context.Background()
	batch := func(prefix string) []app.ApplyEvent {
		var b []app.ApplyEvent
		for i := range 10 {
			b = append(b, app.ApplyEvent{Tenant: "demo", Event: ports.ToDomain(placed("demo", fmt.Sprint(prefix, i), fmt.Sprint("c-", prefix, i), fmt.Sprint("o-", i), "100", i), uint64(i+1))})
		}
		return b
	}
	s.failCommits.Store(1000)
	errs := s.folder.Handle(ctx, batch("down-"))
	if tried := 1000 - s.failCommits.Load(); tried != 4 {
		t.Fatalf("with the store failing the fold tried %d commits, want 4 (the batch, then three events)", tried)
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("event %d reported done although nothing was written", i)
		}
	}
	// One failure is an event's own: the others are folded one by one.
	s.failCommits.Store(1)
	for i, err := range s.folder.Handle(ctx, batch("poison-")) {
		if err != nil {
			t.Fatalf("event %d failed after the batch's one failure: %v", i, err)
		}
	}
}
