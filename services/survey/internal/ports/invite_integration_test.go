package ports_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/service"
)

// The trigger service's request on the work queue becomes one invitation,
// one SendRequest for the notification service with every variable its
// template needs, and one survey.invited event; the same request again —
// a week later, past JetStream's duplicate window — sends nothing; another
// survey for the same customer within the fatigue period is suppressed
// and says why; a transactional one goes out anyway.
func TestInviteFromTheWorkQueue(t *testing.T) {
	e := newEnv(t)
	e.customer(t, "demo", "c-sara", "sara@example.com", "", "fa")
	req := &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "csat-delivery", Customer: &journeyv1.Customer{CustomerId: "c-sara"},
		Touchpoint: "order:1001", CauseEventId: "fired:1"}
	e.requestInvite(t, "demo:fired-1", req)

	var sent []*notificationv1.SendRequest
	poll.Until(t, 10*time.Second, "a SendRequest on NOTIFICATION_REQUESTS", func() bool {
		sent = e.sendRequests(t, "demo")
		return len(sent) == 1
	})
	s := sent[0]
	v := s.GetVariables()
	if s.GetTemplateId() != "survey-invitation" || s.GetCategory() != notificationv1.Category_CATEGORY_MARKETING || s.GetCustomer().GetCustomerId() != "c-sara" ||
		!strings.HasPrefix(s.GetNotificationId(), "survey:") || s.GetEvent() != nil || s.GetCauseEventId() != "fired:1" {
		t.Fatalf("SendRequest = %v", s)
	}
	invID := strings.TrimPrefix(s.GetNotificationId(), "survey:")
	want := map[string]string{"survey_id": "csat-delivery", "survey_kind": "csat", "touchpoint": "order:1001", "invitation_id": invID,
		"shop_name": "Demo Shop", "scale_min": "1", "scale_max": "5", "locale": "fa", "question": "از تحویل سفارشتان چقدر راضی بودید؟"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("variable %s = %q, want %q", k, v[k], w)
		}
	}
	if !strings.HasPrefix(v["survey_url"], e.page.URL+"/s/") {
		t.Errorf("survey_url = %q", v["survey_url"])
	}
	for n := 1; n <= 5; n++ {
		u := v["score_url_"+strconv.Itoa(n)]
		if !strings.HasPrefix(u, e.page.URL+"/s/") || u == v["survey_url"] {
			t.Errorf("score_url_%d = %q", n, u)
		}
	}
	if _, ok := v["score_url_0"]; ok {
		t.Error("CSAT has no score 0")
	}
	msgs := e.queuedMsgs(t, topology.NotificationRequests, "cx.demo.notification.send")
	if got := msgs[0].Header.Get("Nats-Msg-Id"); got != "demo:survey:"+invID {
		t.Errorf("Nats-Msg-Id = %q, want demo:survey:%s", got, invID)
	}
	invited := e.journey(t, "demo", "survey.invited")
	if len(invited) != 1 || invited[0].GetSurveyInvited().GetInvitationId() != invID || invited[0].GetSurveyInvited().GetKind() != journeyv1.SurveyKind_SURVEY_KIND_CSAT {
		t.Fatalf("survey.invited = %v", invited)
	}

	// The same request under another message id, as after the duplicate
	// window: taken, and nothing sent.
	e.requestInvite(t, "demo:fired-1-again", req)
	poll.Until(t, 10*time.Second, "the repeat taken from the work queue", func() bool { return e.workQueueEmpty(t) })
	if n := len(e.sendRequests(t, "demo")); n != 1 {
		t.Fatalf("%d SendRequests after a repeated request, want 1", n)
	}
	ctx := context.Background()
	got, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: invID})
	if err != nil || got.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SENT {
		t.Fatalf("GetInvitation = %v, %v", got, err)
	}

	// Fatigue: an NPS about another order within 30 days is held back.
	r, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-sara"}, Touchpoint: "order:1002"})
	if err != nil {
		t.Fatal(err)
	}
	inv := r.GetInvitation()
	if inv.GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SUPPRESSED || inv.GetSuppressionReason() != surveyv1.SuppressionReason_SUPPRESSION_REASON_FATIGUE {
		t.Fatalf("second survey within the period = %v", inv)
	}
	g, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: inv.GetInvitationId()})
	if err != nil || g.GetInvitation().GetSuppressionReason() != surveyv1.SuppressionReason_SUPPRESSION_REASON_FATIGUE {
		t.Fatalf("GetInvitation of the suppressed one = %v, %v", g, err)
	}
	// Transactional: a ticket CSAT goes out despite the period.
	r, err = e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "csat-support", Customer: &journeyv1.Customer{CustomerId: "c-sara"},
		Touchpoint: "ticket:77", Transactional: true, Locale: "en"})
	if err != nil || r.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SENT {
		t.Fatalf("transactional invite = %v, %v", r, err)
	}
	sent = e.sendRequests(t, "demo")
	if len(sent) != 2 || sent[1].GetCategory() != notificationv1.Category_CATEGORY_SERVICE || sent[1].GetVariables()["locale"] != "en" ||
		sent[1].GetVariables()["question"] != "How satisfied were you with our support?" {
		t.Fatalf("transactional SendRequest = %v", sent)
	}
	// Past the period the customer may be asked again.
	e.clock.advance(31 * 24 * time.Hour)
	r, err = e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-sara"}, Touchpoint: "order:1003"})
	if err != nil || r.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SENT || len(r.GetInvitation().GetAnswer().GetTopics()) != 0 {
		t.Fatalf("invite after the period = %v, %v", r, err)
	}
	// A customer with no email address or phone number cannot be invited.
	r, err = e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{AnonymousId: "anon-1"}, Touchpoint: "order:9"})
	if err != nil || r.GetInvitation().GetSuppressionReason() != surveyv1.SuppressionReason_SUPPRESSION_REASON_NO_CHANNEL {
		t.Fatalf("invite without a channel = %v, %v", r, err)
	}
	// A request that can never work is dead-lettered with the reason.
	e.requestInvite(t, "demo:bad", &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "no-such-survey", Customer: &journeyv1.Customer{CustomerId: "c-sara"}, Touchpoint: "order:1"})
	poll.Until(t, 10*time.Second, "the bad request dead-lettered", func() bool {
		dl := e.queuedMsgs(t, topology.DeadLetter, "cx.demo.deadletter.survey")
		return len(dl) == 1 && strings.Contains(dl[0].Header.Get("Bazgasht-Dead-Reason"), "not found")
	})
	// A request on one tenant's subject naming another tenant invites
	// nobody: the subject is what publish permissions guard.
	forged, err := proto.Marshal(&surveyv1.InviteRequest{Tenant: "other-shop", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-sara", Phone: "+989120000000"}, Touchpoint: "order:66"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.nats.JS.PublishMsg(ctx, &nats.Msg{Subject: "cx.demo.survey.invite", Data: forged, Header: nats.Header{"Nats-Msg-Id": []string{"demo:forged"}}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the forged request dead-lettered", func() bool {
		dl := e.queuedMsgs(t, topology.DeadLetter, "cx.demo.deadletter.survey")
		return len(dl) == 2 && strings.Contains(dl[1].Header.Get("Bazgasht-Dead-Reason"), "tenant")
	})
}

// An answer through the page becomes survey.responded on JOURNEY (the
// profile folds it), the comment completes it, one change updates it
// once with a new event id, and a further change is refused; KPIs count
// the invitation once with its latest score.
func TestAnswerThroughThePage(t *testing.T) {
	e := newEnv(t)
	e.customer(t, "demo", "c-ali", "ali@example.com", "", "en")
	ctx := context.Background()
	r, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-ali"}, Touchpoint: "order:5"})
	if err != nil {
		t.Fatal(err)
	}
	invID := r.GetInvitation().GetInvitationId()
	v := e.sendRequests(t, "demo")[0].GetVariables()

	code, body := pageGet(t, v["score_url_3"], "")
	if code != 200 || !strings.Contains(body, `name="comment"`) || !strings.Contains(body, `lang="en" dir="ltr"`) {
		t.Fatalf("one-tap score page = %d\n%s", code, body)
	}
	responded := func(n int) []*journeyv1.JourneyEvent {
		var evs []*journeyv1.JourneyEvent
		poll.Until(t, 10*time.Second, "survey.responded events", func() bool {
			evs = e.journey(t, "demo", "survey.responded")
			return len(evs) >= n
		})
		return evs
	}
	evs := responded(1)
	if ev := evs[0]; ev.GetId() != invID+":answer:1" || ev.GetSurveyResponded().GetScore() != 3 || ev.GetSurveyResponded().GetTouchpoint() != "order:5" ||
		ev.GetSurveyResponded().GetInvitationId() != invID || ev.GetCustomer().GetCustomerId() != "c-ali" {
		t.Fatalf("survey.responded = %v", ev)
	}
	// The same tap again (a reload, a mail scanner) changes nothing.
	if code, _ := pageGet(t, v["score_url_3"], ""); code != 200 {
		t.Fatalf("second tap = %d", code)
	}
	code, body = pagePost(t, v["score_url_3"], map[string]string{"score": "3", "comment": "Delivery was late <script>alert(1)</script>"})
	if code != 200 || strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("comment page = %d\n%s", code, body)
	}
	evs = responded(2)
	if ev := evs[1].GetSurveyResponded(); evs[1].GetId() != invID+":answer:2" || ev.GetComment() != "Delivery was late <script>alert(1)</script>" || ev.GetScore() != 3 {
		t.Fatalf("second event = %v", evs[1])
	}
	// The customer thinks again: 9. One change is taken.
	if code, _ := pageGet(t, v["score_url_9"], ""); code != 200 {
		t.Fatalf("changed tap = %d", code)
	}
	evs = responded(3)
	if evs[2].GetId() != invID+":answer:3" || evs[2].GetSurveyResponded().GetScore() != 9 {
		t.Fatalf("third event = %v", evs[2])
	}
	code, body = pageGet(t, v["score_url_10"], "")
	if code != 409 || !strings.Contains(body, "already recorded") {
		t.Fatalf("second change = %d\n%s", code, body)
	}
	if n := len(e.journey(t, "demo", "survey.responded")); n != 3 {
		t.Fatalf("%d survey.responded events, want 3", n)
	}
	g, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: invID})
	a := g.GetInvitation().GetAnswer()
	if err != nil || a.GetScore() != 9 || g.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_RESPONDED ||
		a.GetSentiment() != surveyv1.Sentiment_SENTIMENT_NEGATIVE || len(a.GetTopics()) != 1 || a.GetTopics()[0] != "delivery" {
		t.Fatalf("stored answer = %v, %v", g, err)
	}
	// The profile keeps the latest answer.
	poll.Until(t, 10*time.Second, "the profile's last NPS 9", func() bool {
		p, err := e.profile.GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: "demo",
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{CustomerId: "c-ali"}}}})
		return err == nil && p.GetProfile().GetFeedback().GetLastNps().GetScore() == 9
	})
	// KPIs: one invitation, one answer, a promoter.
	now := time.Now()
	var k *surveyv1.GetScoreKPIsResponse
	poll.Until(t, 5*time.Second, "the KPI index to hold the change", func() bool {
		k, err = e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: &reportv1.Period{StartTime: timestamppb.New(now.Add(-24 * time.Hour)),
			EndTime: timestamppb.New(now.Add(24 * time.Hour)), Granularity: reportv1.Granularity_GRANULARITY_DAY}})
		return err == nil && k.GetTotal().GetNps().GetPromoters() == 1
	})
	tot := k.GetTotal()
	if tot.GetResponses() != 1 || tot.GetInvitations() != 1 || tot.GetResponseRate() != 1 || tot.GetNps().GetScore() != 100 || tot.GetSentiment().GetNegative() != 1 ||
		len(tot.GetTopTopics()) != 1 || tot.GetTopTopics()[0].GetTopic() != "delivery" {
		t.Fatalf("KPIs = %v", tot)
	}
}

// Invitations racing for one customer: the same request five times at
// once makes one invitation and one message; five different surveys at
// once send exactly one, the rest held back by fatigue.
func TestConcurrentInvitesSendOnce(t *testing.T) {
	e := newEnv(t)
	e.customer(t, "demo", "c-race", "race@example.com", "", "fa")
	ctx := context.Background()
	run := func(reqs []*surveyv1.InviteRequest) []*surveyv1.Invitation {
		out := make([]*surveyv1.Invitation, len(reqs))
		errs := make(chan error, len(reqs))
		for i, r := range reqs {
			go func() {
				resp, err := e.client.Invite(ctx, r)
				out[i] = resp.GetInvitation()
				errs <- err
			}()
		}
		for range reqs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	same := make([]*surveyv1.InviteRequest, 5)
	for i := range same {
		same[i] = &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-race"}, Touchpoint: "order:1"}
	}
	invs := run(same)
	for _, inv := range invs {
		if inv.GetInvitationId() != invs[0].GetInvitationId() {
			t.Fatal("the same request made two invitations")
		}
	}
	if n := len(e.sendRequests(t, "demo")); n != 1 {
		t.Fatalf("%d SendRequests for one invitation", n)
	}
	e.customer(t, "demo", "c-race2", "race2@example.com", "", "fa")
	var many []*surveyv1.InviteRequest
	for _, s := range []string{"nps", "csat-delivery", "csat-support", "ces-support"} {
		for _, tp := range []string{"order:7", "order:8"} {
			many = append(many, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: s, Customer: &journeyv1.Customer{CustomerId: "c-race2"}, Touchpoint: tp})
		}
	}
	sent, fatigued := 0, 0
	for _, inv := range run(many) {
		switch {
		case inv.GetStatus() == surveyv1.InvitationStatus_INVITATION_STATUS_SENT:
			sent++
		case inv.GetSuppressionReason() == surveyv1.SuppressionReason_SUPPRESSION_REASON_FATIGUE:
			fatigued++
		}
	}
	if sent != 1 || fatigued != len(many)-1 || len(e.sendRequests(t, "demo")) != 2 {
		t.Fatalf("%d sent, %d held back by fatigue, %d SendRequests; want 1, %d, 2", sent, fatigued, len(e.sendRequests(t, "demo")), len(many)-1)
	}
}

// A mail scanner that follows every score link of an invitation records
// nothing — no answer, no survey.responded, no detractor follow-up — and the
// page asks the person to choose; the person's form answer then counts at
// once. A person's lone tap counts too, once it has settled.
func TestAMailScannerFollowingEveryLinkRecordsNothing(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.TapSettle = 10 * time.Second })
	e.customer(t, "demo", "c-scan", "scan@example.com", "", "en")
	e.customer(t, "demo", "c-tap", "tap@example.com", "", "en")
	ctx := context.Background()
	for _, c := range []string{"c-scan", "c-tap"} {
		if _, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: c}, Touchpoint: "order:" + c}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := e.sendRequests(t, "demo")
	scan, lone := reqs[0].GetVariables(), reqs[1].GetVariables()

	for s := 0; s <= 10; s++ {
		code, body := pageGet(t, scan["score_url_"+strconv.Itoa(s)], "")
		if code != 200 || (s > 0 && !strings.Contains(body, "choose yours")) {
			t.Fatalf("scanner's GET of score %d = %d\n%s", s, code, body)
		}
	}
	inv, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: scan["invitation_id"]})
	if err != nil || inv.GetInvitation().GetAnswer() != nil {
		t.Fatalf("after the scanner: %v, %v; want no answer", inv, err)
	}
	// The person answers in the form: recorded and published at once.
	if code, _ := pagePost(t, scan["survey_url"], map[string]string{"score": "9"}); code != 200 {
		t.Fatalf("form answer: %d", code)
	}
	poll.Until(t, 10*time.Second, "the person's answer published", func() bool {
		for _, ev := range e.journey(t, "demo", "survey.responded") {
			if ev.GetSurveyResponded().GetInvitationId() == scan["invitation_id"] {
				return ev.GetSurveyResponded().GetScore() == 9
			}
		}
		return false
	})

	// A lone tap is recorded, and published once it settled.
	if code, _ := pageGet(t, lone["score_url_3"], ""); code != 200 {
		t.Fatalf("lone tap: %d", code)
	}
	published := func() bool {
		for _, ev := range e.journey(t, "demo", "survey.responded") {
			if ev.GetSurveyResponded().GetInvitationId() == lone["invitation_id"] {
				return true
			}
		}
		return false
	}
	if published() {
		t.Fatal("a tap was published before it settled")
	}
	e.clock.advance(11 * time.Second)
	poll.Until(t, 30*time.Second, "the settled tap published", published)
	if n := len(e.journey(t, "demo", "survey.responded")); n != 2 {
		t.Fatalf("%d survey.responded events, want 2 (nothing from the scanner)", n)
	}
}

// What the notification service decides reaches the invitation: a message
// held back (here for want of consent) makes it suppressed with the reason,
// so it is not counted as sent, and the customer's fatigue period, claimed
// for a message that never went out, is given back.
func TestAnInvitationWhoseMessageWasHeldBackIsNotSent(t *testing.T) {
	e := newEnv(t)
	e.customer(t, "demo", "c-held", "held@example.com", "", "en")
	ctx := context.Background()
	r, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-held"}, Touchpoint: "order:71"})
	if err != nil || r.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SENT {
		t.Fatalf("invite = %v, %v", r, err)
	}
	id := r.GetInvitation().GetInvitationId()
	held := &journeyv1.JourneyEvent{Id: "n:survey:" + id + ":suppressed", Tenant: "demo", Type: "notification.suppressed", Source: "notification",
		Customer: &journeyv1.Customer{CustomerId: "c-held"}, OccurredAt: timestamppb.Now(), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_NotificationSuppressed{NotificationSuppressed: &journeyv1.NotificationSuppressed{NotificationId: "survey:" + id, Reason: "no_consent"}}}
	if a := e.pub.Publish(ctx, []*journeyv1.JourneyEvent{held})[0]; a.Err != nil {
		t.Fatal(a.Err)
	}
	poll.Until(t, 10*time.Second, "the invitation marked not sent", func() bool {
		g, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: id})
		inv := g.GetInvitation()
		return err == nil && inv.GetStatus() == surveyv1.InvitationStatus_INVITATION_STATUS_SUPPRESSED &&
			inv.GetSuppressionReason() == surveyv1.SuppressionReason_SUPPRESSION_REASON_NOT_DELIVERED && inv.GetDetail() == "no_consent"
	})
	// The fatigue period is free again: the next invitation goes out.
	r, err = e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "csat-delivery", Customer: &journeyv1.Customer{CustomerId: "c-held"}, Touchpoint: "order:72"})
	if err != nil || r.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_SENT {
		t.Fatalf("the next invitation = %v, %v; want sent, the period given back", r, err)
	}
}

// A customer signs up and their ticket is resolved a moment later; the
// rule's invitation request can reach the survey service before the
// profile service has folded the sign-up. The invitation waits for the
// profile to include its cause, so it goes out on the customer's channel
// in their language instead of being suppressed for want of a channel.
func TestAnInvitationWaitsForItsCauseInTheProfile(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	signup := &journeyv1.JourneyEvent{Id: "cu-new", Tenant: "demo", Type: "customer.updated", Source: "api",
		Customer: &journeyv1.Customer{CustomerId: "c-new", Email: "new@example.com"}, OccurredAt: timestamppb.New(now.Add(-time.Minute)), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{Locale: "en", PreferredChannel: journeyv1.Channel_CHANNEL_EMAIL}}}
	resolved := &journeyv1.JourneyEvent{Id: "tk-new-resolved", Tenant: "demo", Type: "ticket.resolved", Source: "api",
		Customer: &journeyv1.Customer{CustomerId: "c-new"}, OccurredAt: timestamppb.New(now), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_TicketResolved{TicketResolved: &journeyv1.TicketResolved{TicketId: "t-9"}}}
	// The request first, the events after: the profile cannot know the
	// customer when the request arrives.
	e.requestInvite(t, "demo:fired-new", &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "csat-support", Customer: &journeyv1.Customer{CustomerId: "c-new"},
		Touchpoint: "ticket:t-9", CauseEventId: resolved.GetId()})
	for _, a := range e.pub.Publish(context.Background(), []*journeyv1.JourneyEvent{signup, resolved}) {
		if a.Err != nil {
			t.Fatal(a.Err)
		}
	}
	var sent []*notificationv1.SendRequest
	poll.Until(t, 10*time.Second, "the invitation sent", func() bool {
		sent = e.sendRequests(t, "demo")
		return len(sent) == 1
	})
	if v := sent[0].GetVariables(); v["locale"] != "en" {
		t.Fatalf("the invitation's locale is %q, want the customer's en (the profile was read before it knew them)", v["locale"])
	}
}
