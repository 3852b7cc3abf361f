package ports_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
)

// wantField checks err is INVALID_ARGUMENT naming field, in the message
// and in a google.rpc.BadRequest.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), field+":") {
		t.Fatalf("error = %v, want INVALID_ARGUMENT on %s", err, field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Fatalf("error %v has no BadRequest naming %s", err, field)
}

func wantCode(t *testing.T, err error, c codes.Code) {
	t.Helper()
	if status.Code(err) != c {
		t.Fatalf("error = %v, want %s", err, c)
	}
}

func cesSurvey() *surveyv1.Survey {
	return &surveyv1.Survey{SurveyId: "ces-returns", Name: "CES after a return", Kind: journeyv1.SurveyKind_SURVEY_KIND_CES, CesForm: surveyv1.CesForm_CES_FORM_AGREEMENT,
		CommentEnabled: true, LinkTtl: durationpb.New(7 * 24 * time.Hour), Branding: &surveyv1.Branding{ShopName: "Kala", PrimaryColor: "#aa2200"},
		Texts: []*surveyv1.SurveyText{{Locale: "fa", Question: "مرجوع کردن کالا آسان بود.", LowLabel: "کاملاً مخالفم", HighLabel: "کاملاً موافقم"},
			{Locale: "en", Question: "Returning the item was easy.", LowLabel: "Strongly disagree", HighLabel: "Strongly agree"}}}
}

func TestSurveyDefinitionsOverGRPC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// The default set is there without setup, in every tenant.
	for _, tenant := range []string{"demo", "shop2"} {
		l, err := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range l.GetSurveys() {
			ids = append(ids, s.GetSurveyId())
			if !s.GetBuiltin() || s.GetVersion() != 1 {
				t.Fatalf("default %s = %v", s.GetSurveyId(), s)
			}
		}
		if strings.Join(ids, ",") != "ces-support,csat-delivery,csat-support,nps" {
			t.Fatalf("%s defaults = %v", tenant, ids)
		}
	}
	c, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: cesSurvey()})
	if err != nil || c.GetSurvey().GetVersion() != 1 || c.GetSurvey().GetBuiltin() || c.GetSurvey().GetUpdatedAt() == nil {
		t.Fatalf("CreateSurvey = %v, %v", c, err)
	}
	_, err = e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: cesSurvey()})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: &surveyv1.Survey{SurveyId: "nps", Kind: journeyv1.SurveyKind_SURVEY_KIND_NPS,
		Texts: []*surveyv1.SurveyText{{Locale: "en", Question: "?"}}}})
	wantCode(t, err, codes.AlreadyExists)

	upd := cesSurvey()
	upd.Texts[1].Question = "Returning the item was easy for me."
	u, err := e.client.UpdateSurvey(ctx, &surveyv1.UpdateSurveyRequest{Tenant: "demo", Survey: upd, ExpectedVersion: 1})
	if err != nil || u.GetSurvey().GetVersion() != 2 {
		t.Fatalf("UpdateSurvey = %v, %v", u, err)
	}
	_, err = e.client.UpdateSurvey(ctx, &surveyv1.UpdateSurveyRequest{Tenant: "demo", Survey: upd, ExpectedVersion: 1})
	wantCode(t, err, codes.Aborted)
	v1, err := e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "demo", SurveyId: "ces-returns", Version: 1})
	if err != nil || v1.GetSurvey().GetTexts()[1].GetQuestion() != "Returning the item was easy." || v1.GetSurvey().GetCesForm() != surveyv1.CesForm_CES_FORM_AGREEMENT {
		t.Fatalf("version 1 = %v, %v", v1, err)
	}
	cur, err := e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "demo", SurveyId: "ces-returns"})
	if err != nil || cur.GetSurvey().GetVersion() != 2 || cur.GetSurvey().GetLinkTtl().AsDuration() != 7*24*time.Hour || cur.GetSurvey().GetBranding().GetPrimaryColor() != "#aa2200" {
		t.Fatalf("current = %v, %v", cur, err)
	}
	// A tenant changing a default gets its own version 2; others keep 1.
	nps, _ := e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "demo", SurveyId: "nps"})
	mine := nps.GetSurvey()
	mine.Branding = &surveyv1.Branding{ShopName: "Demo", PrimaryColor: "#004488"}
	if u, err := e.client.UpdateSurvey(ctx, &surveyv1.UpdateSurveyRequest{Tenant: "demo", Survey: mine}); err != nil || u.GetSurvey().GetVersion() != 2 || !u.GetSurvey().GetBuiltin() {
		t.Fatalf("updating the default = %v, %v", u, err)
	}
	if o, err := e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "shop2", SurveyId: "nps"}); err != nil || o.GetSurvey().GetVersion() != 1 {
		t.Fatalf("the other tenant's nps = %v, %v", o, err)
	}
	// Tenant isolation: shop2 does not see demo's survey.
	_, err = e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "shop2", SurveyId: "ces-returns"})
	wantCode(t, err, codes.NotFound)
	// Paging and filters.
	p1, err := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: "demo", PageSize: 3})
	if err != nil || len(p1.GetSurveys()) != 3 || p1.GetNextPageToken() == "" {
		t.Fatalf("page 1 = %v, %v", p1, err)
	}
	p2, err := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: "demo", PageSize: 3, PageToken: p1.GetNextPageToken()})
	if err != nil || len(p2.GetSurveys()) != 2 || p2.GetNextPageToken() != "" || p2.GetSurveys()[1].GetSurveyId() != "nps" {
		t.Fatalf("page 2 = %v, %v", p2, err)
	}
	ces, _ := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: "demo", Kind: journeyv1.SurveyKind_SURVEY_KIND_CES})
	if len(ces.GetSurveys()) != 2 {
		t.Fatalf("CES surveys = %v", ces)
	}
	// Archived: listed only when asked, and no new invitations.
	arch := cesSurvey()
	arch.Archived = true
	if _, err := e.client.UpdateSurvey(ctx, &surveyv1.UpdateSurveyRequest{Tenant: "demo", Survey: arch}); err != nil {
		t.Fatal(err)
	}
	if l, _ := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: "demo", Kind: journeyv1.SurveyKind_SURVEY_KIND_CES}); len(l.GetSurveys()) != 1 {
		t.Fatalf("archived survey listed: %v", l)
	}
	e.customer(t, "demo", "c-1", "c1@example.com", "", "fa")
	_, err = e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "ces-returns", Customer: &journeyv1.Customer{CustomerId: "c-1"}, Touchpoint: "return:1"})
	wantCode(t, err, codes.FailedPrecondition)
}

func TestBadInputNamesTheField(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := func(edit func(*surveyv1.Survey)) *surveyv1.Survey {
		s := cesSurvey()
		edit(s)
		return s
	}
	cust := &journeyv1.Customer{CustomerId: "c-1"}
	day := &reportv1.Period{StartTime: timestamppb.New(time.Now().Add(-time.Hour)), EndTime: timestamppb.Now(), Granularity: reportv1.Granularity_GRANULARITY_DAY}
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"create without tenant", func() error {
			_, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Survey: cesSurvey()})
			return err
		}, "tenant"},
		{"create without survey", func() error {
			_, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo"})
			return err
		}, "survey"},
		{"create without kind", func() error {
			_, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: bad(func(s *surveyv1.Survey) { s.Kind = 0 })})
			return err
		}, "survey.kind"},
		{"create with an empty question", func() error {
			_, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: bad(func(s *surveyv1.Survey) { s.Texts[1].Question = "" })})
			return err
		}, "survey.texts[1].question"},
		{"create with a bad colour", func() error {
			_, err := e.client.CreateSurvey(ctx, &surveyv1.CreateSurveyRequest{Tenant: "demo", Survey: bad(func(s *surveyv1.Survey) { s.Branding.PrimaryColor = "red" })})
			return err
		}, "survey.branding.primary_color"},
		{"update changing the kind", func() error {
			_, err := e.client.UpdateSurvey(ctx, &surveyv1.UpdateSurveyRequest{Tenant: "demo", Survey: bad(func(s *surveyv1.Survey) {
				s.SurveyId, s.Kind, s.CesForm = "nps", journeyv1.SurveyKind_SURVEY_KIND_CSAT, 0
			})})
			return err
		}, "survey.kind"},
		{"get with a bad id", func() error {
			_, err := e.client.GetSurvey(ctx, &surveyv1.GetSurveyRequest{Tenant: "demo", SurveyId: "NPS!"})
			return err
		}, "survey_id"},
		{"list with a huge page", func() error {
			_, err := e.client.ListSurveys(ctx, &surveyv1.ListSurveysRequest{Tenant: "demo", PageSize: 5000})
			return err
		}, "page_size"},
		{"invite without a customer", func() error {
			_, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Touchpoint: "order:1"})
			return err
		}, "customer"},
		{"invite without a touchpoint", func() error {
			_, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: cust})
			return err
		}, "touchpoint"},
		{"invite by push", func() error {
			_, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: cust, Touchpoint: "order:1", Channel: journeyv1.Channel_CHANNEL_PUSH})
			return err
		}, "channel"},
		{"invite with a bad locale", func() error {
			_, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: cust, Touchpoint: "order:1", Locale: "persian!"})
			return err
		}, "locale"},
		{"invitation with a bad id", func() error {
			_, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: "a/b"})
			return err
		}, "invitation_id"},
		{"KPIs without a period", func() error {
			_, err := e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo"})
			return err
		}, "period"},
		{"KPIs without granularity", func() error {
			_, err := e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: &reportv1.Period{StartTime: day.StartTime, EndTime: day.EndTime}})
			return err
		}, "period.granularity"},
		{"KPIs in an unknown zone", func() error {
			p := &reportv1.Period{StartTime: day.StartTime, EndTime: day.EndTime, Granularity: day.Granularity, TimeZone: "Mars/Olympus"}
			_, err := e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: p})
			return err
		}, "period.time_zone"},
		{"KPIs with too many topics", func() error {
			_, err := e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: day, TopTopics: 51})
			return err
		}, "top_topics"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantField(t, tc.call(), tc.field)
		})
	}
}

func TestTenantsNeverSeeEachOthersInvitations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.customer(t, "demo", "c-9", "c9@example.com", "", "fa")
	r, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-9"}, Touchpoint: "order:9"})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetInvitation().GetInvitationId()
	_, err = e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "shop2", InvitationId: id})
	wantCode(t, err, codes.NotFound)
	// The same request twice: one invitation, marked duplicate.
	again, err := e.client.Invite(ctx, &surveyv1.InviteRequest{Tenant: "demo", SurveyId: "nps", Customer: &journeyv1.Customer{CustomerId: "c-9"}, Touchpoint: "order:9"})
	if err != nil || !again.GetDuplicate() || again.GetInvitation().GetInvitationId() != id || len(e.sendRequests(t, "demo")) != 1 {
		t.Fatalf("repeat Invite = %v, %v", again, err)
	}
	// An answer in demo shows in demo's KPIs only.
	v := e.sendRequests(t, "demo")[0].GetVariables()
	if code, _ := pageGet(t, v["score_url_10"], ""); code != 200 {
		t.Fatalf("answer = %d", code)
	}
	period := &reportv1.Period{StartTime: timestamppb.New(time.Now().Add(-time.Hour)), EndTime: timestamppb.New(time.Now().Add(time.Hour)),
		Granularity: reportv1.Granularity_GRANULARITY_MONTH, Calendar: reportv1.Calendar_CALENDAR_JALALI, TimeZone: "Asia/Tehran"}
	var k *surveyv1.GetScoreKPIsResponse
	poll.Until(t, 5*time.Second, "demo's KPIs to show the answer", func() bool {
		k, err = e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "demo", Period: period})
		return err == nil && k.GetTotal().GetResponses() == 1
	})
	if l := k.GetPeriods()[0].GetBounds().GetLabel(); !strings.HasPrefix(l, "14") {
		t.Fatalf("Jalali label = %q", l)
	}
	o, err := e.client.GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: "shop2", Period: period})
	if err != nil || o.GetTotal().GetResponses() != 0 || o.GetTotal().GetInvitations() != 0 {
		t.Fatalf("shop2's KPIs = %v, %v", o, err)
	}
	// Cuts: by survey, by touchpoint kind, by a segment nobody is in.
	for _, tc := range []struct {
		req  *surveyv1.GetScoreKPIsRequest
		want int64
	}{
		{&surveyv1.GetScoreKPIsRequest{SurveyId: "nps"}, 1},
		{&surveyv1.GetScoreKPIsRequest{SurveyId: "csat-delivery"}, 0},
		{&surveyv1.GetScoreKPIsRequest{Touchpoint: "order"}, 1},
		{&surveyv1.GetScoreKPIsRequest{Touchpoint: "ticket"}, 0},
		{&surveyv1.GetScoreKPIsRequest{Touchpoint: "order:9"}, 1},
		{&surveyv1.GetScoreKPIsRequest{Kind: journeyv1.SurveyKind_SURVEY_KIND_CSAT}, 0},
		{&surveyv1.GetScoreKPIsRequest{Segment: "no-such-segment"}, 0},
	} {
		tc.req.Tenant, tc.req.Period = "demo", period
		got, err := e.client.GetScoreKPIs(ctx, tc.req)
		if err != nil || got.GetTotal().GetResponses() != tc.want {
			t.Fatalf("cut %v = %v, %v; want %d responses", tc.req, got.GetTotal(), err, tc.want)
		}
	}
}
