// Package ports serves the survey service: the gRPC API, the response
// page over HTTP and the consumer of the invitation work queue.
package ports

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/survey/internal/adapters"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// GRPC serves cx.survey.v1.SurveyService.
type GRPC struct {
	surveyv1.UnimplementedSurveyServiceServer
	app *app.App
}

// NewGRPC returns the gRPC API over the use cases.
func NewGRPC(a *app.App) (*GRPC, error) {
	if a == nil {
		return nil, errors.New("grpc: the app is required")
	}
	return &GRPC{app: a}, nil
}

// CreateSurvey implements SurveyServiceServer.
func (g *GRPC) CreateSurvey(ctx context.Context, r *surveyv1.CreateSurveyRequest) (*surveyv1.CreateSurveyResponse, error) {
	if r.GetSurvey() == nil {
		return nil, invalid("survey", "required")
	}
	d, err := g.app.CreateSurvey(ctx, r.GetTenant(), definition(r.GetSurvey()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &surveyv1.CreateSurveyResponse{Survey: surveyProto(d)}, nil
}

// UpdateSurvey implements SurveyServiceServer.
func (g *GRPC) UpdateSurvey(ctx context.Context, r *surveyv1.UpdateSurveyRequest) (*surveyv1.UpdateSurveyResponse, error) {
	if r.GetSurvey() == nil {
		return nil, invalid("survey", "required")
	}
	d, err := g.app.UpdateSurvey(ctx, r.GetTenant(), definition(r.GetSurvey()), int(r.GetExpectedVersion()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &surveyv1.UpdateSurveyResponse{Survey: surveyProto(d)}, nil
}

// GetSurvey implements SurveyServiceServer.
func (g *GRPC) GetSurvey(ctx context.Context, r *surveyv1.GetSurveyRequest) (*surveyv1.GetSurveyResponse, error) {
	d, err := g.app.Survey(ctx, r.GetTenant(), r.GetSurveyId(), int(r.GetVersion()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &surveyv1.GetSurveyResponse{Survey: surveyProto(d)}, nil
}

// ListSurveys implements SurveyServiceServer. The page token is the last
// survey id of the previous page.
func (g *GRPC) ListSurveys(ctx context.Context, r *surveyv1.ListSurveysRequest) (*surveyv1.ListSurveysResponse, error) {
	size := int(r.GetPageSize())
	switch {
	case size < 0 || size > 1000:
		return nil, invalid("page_size", "must be 0 (100) to 1000")
	case size == 0:
		size = 100
	}
	after := ""
	if t := r.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || survey.CheckID("page_token", string(b)) != nil {
			return nil, invalid("page_token", "is not a token ListSurveys returned")
		}
		after = string(b)
	}
	defs, err := g.app.ListSurveys(ctx, r.GetTenant(), app.ListFilter{Kind: kindOf(r.GetKind()), IncludeArchived: r.GetIncludeArchived()})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &surveyv1.ListSurveysResponse{}
	for _, d := range defs {
		if d.ID <= after {
			continue
		}
		if len(resp.Surveys) == size {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(resp.Surveys[size-1].GetSurveyId()))
			break
		}
		resp.Surveys = append(resp.Surveys, surveyProto(d))
	}
	return resp, nil
}

// Invite implements SurveyServiceServer.
func (g *GRPC) Invite(ctx context.Context, r *surveyv1.InviteRequest) (*surveyv1.InviteResponse, error) {
	inv, dup, err := g.app.Invite(ctx, InviteRequest(r))
	if err != nil {
		return nil, toStatus(err)
	}
	return &surveyv1.InviteResponse{Invitation: invitationProto(inv), Duplicate: dup}, nil
}

// GetInvitation implements SurveyServiceServer.
func (g *GRPC) GetInvitation(ctx context.Context, r *surveyv1.GetInvitationRequest) (*surveyv1.GetInvitationResponse, error) {
	inv, err := g.app.Invitation(ctx, r.GetTenant(), r.GetInvitationId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &surveyv1.GetInvitationResponse{Invitation: invitationProto(inv)}, nil
}

// GetScoreKPIs implements SurveyServiceServer.
func (g *GRPC) GetScoreKPIs(ctx context.Context, r *surveyv1.GetScoreKPIsRequest) (*surveyv1.GetScoreKPIsResponse, error) {
	spec, err := periodSpec(r.GetPeriod())
	if err != nil {
		return nil, toStatus(err)
	}
	if r.GetKind() < 0 || r.GetKind() > journeyv1.SurveyKind_SURVEY_KIND_CES {
		return nil, invalid("kind", "unknown survey kind")
	}
	res, err := g.app.ScoreKPIs(ctx, app.KPIRequest{Tenant: r.GetTenant(), Period: spec, TopTopics: int(r.GetTopTopics()),
		Filter: kpi.Filter{SurveyID: r.GetSurveyId(), Kind: kindOf(r.GetKind()), Touchpoint: r.GetTouchpoint(), Segment: r.GetSegment()}})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &surveyv1.GetScoreKPIsResponse{Total: kpisProto(res.TotalBounds, res.Total)}
	for i, b := range res.Periods {
		resp.Periods = append(resp.Periods, kpisProto(b, res.Figures[i]))
	}
	return resp, nil
}

// InviteRequest converts the contract's request to the use case's.
func InviteRequest(r *surveyv1.InviteRequest) app.InviteRequest {
	c := r.GetCustomer()
	ch := invitation.Channel(r.GetChannel())
	return app.InviteRequest{Tenant: r.GetTenant(), SurveyID: r.GetSurveyId(), Touchpoint: r.GetTouchpoint(), Channel: ch,
		Transactional: r.GetTransactional(), Locale: r.GetLocale(), CauseEventID: r.GetCauseEventId(),
		Customer: invitation.Customer{CustomerID: c.GetCustomerId(), Email: c.GetEmail(), Phone: c.GetPhone(), AnonymousID: c.GetAnonymousId()}}
}

func periodSpec(p *reportv1.Period) (period.Spec, error) {
	if p == nil {
		return period.Spec{}, &period.FieldError{Field: "period", Reason: "required"}
	}
	loc, err := period.LoadLocation(p.GetTimeZone())
	if err != nil {
		return period.Spec{}, err
	}
	s := period.Spec{Location: loc, Granularity: period.Granularity(p.GetGranularity())}
	if p.GetStartTime() != nil {
		s.Start = p.GetStartTime().AsTime()
	}
	if p.GetEndTime() != nil {
		s.End = p.GetEndTime().AsTime()
	}
	switch p.GetCalendar() {
	case reportv1.Calendar_CALENDAR_UNSPECIFIED, reportv1.Calendar_CALENDAR_GREGORIAN:
		s.Calendar = period.Gregorian
	case reportv1.Calendar_CALENDAR_JALALI:
		s.Calendar = period.Jalali
	default:
		return s, &period.FieldError{Field: "period.calendar", Reason: "unknown calendar"}
	}
	return s, s.Validate()
}

func kindOf(k journeyv1.SurveyKind) survey.Kind {
	switch k {
	case journeyv1.SurveyKind_SURVEY_KIND_NPS:
		return survey.NPS
	case journeyv1.SurveyKind_SURVEY_KIND_CSAT:
		return survey.CSAT
	case journeyv1.SurveyKind_SURVEY_KIND_CES:
		return survey.CES
	}
	return 0
}

func definition(s *surveyv1.Survey) survey.Definition {
	d := survey.Definition{ID: s.GetSurveyId(), Name: s.GetName(), Kind: kindOf(s.GetKind()), CommentEnabled: s.GetCommentEnabled(),
		InvitationTemplateID: s.GetInvitationTemplateId(), Archived: s.GetArchived(),
		Branding: survey.Branding{ShopName: s.GetBranding().GetShopName(), PrimaryColor: s.GetBranding().GetPrimaryColor(), LogoURL: s.GetBranding().GetLogoUrl()}}
	if s.GetKind() != journeyv1.SurveyKind_SURVEY_KIND_UNSPECIFIED && d.Kind == 0 {
		d.Kind = -1 // unknown enum value: refused by Validate
	}
	switch s.GetCesForm() {
	case surveyv1.CesForm_CES_FORM_UNSPECIFIED, surveyv1.CesForm_CES_FORM_EFFORT:
		d.CesForm = survey.Effort
	case surveyv1.CesForm_CES_FORM_AGREEMENT:
		d.CesForm = survey.Agreement
	default:
		d.CesForm = -1
	}
	if s.GetLinkTtl() != nil {
		d.LinkTTL = s.GetLinkTtl().AsDuration()
		if d.LinkTTL == 0 {
			d.LinkTTL = -1 // an explicit zero is no lifetime: refused
		}
	}
	for _, t := range s.GetTexts() {
		d.Texts = append(d.Texts, survey.Text{Locale: t.GetLocale(), Question: t.GetQuestion(), LowLabel: t.GetLowLabel(), HighLabel: t.GetHighLabel(),
			ScoreLabels: t.GetScoreLabels(), CommentQuestion: t.GetCommentQuestion(), ThankYou: t.GetThankYou()})
	}
	return d
}

func surveyProto(d survey.Definition) *surveyv1.Survey {
	s := &surveyv1.Survey{SurveyId: d.ID, Version: int32(d.Version), Name: d.Name, Kind: adapters.Kind(d.Kind), CommentEnabled: d.CommentEnabled,
		InvitationTemplateId: d.InvitationTemplateID, Archived: d.Archived, Builtin: d.Builtin,
		Branding: &surveyv1.Branding{ShopName: d.Branding.ShopName, PrimaryColor: d.Branding.PrimaryColor, LogoUrl: d.Branding.LogoURL}}
	if d.Kind == survey.CES {
		s.CesForm = surveyv1.CesForm_CES_FORM_EFFORT
		if d.CesForm == survey.Agreement {
			s.CesForm = surveyv1.CesForm_CES_FORM_AGREEMENT
		}
	}
	if d.LinkTTL > 0 {
		s.LinkTtl = durationpb.New(d.LinkTTL)
	}
	if !d.UpdatedAt.IsZero() {
		s.UpdatedAt = timestamppb.New(d.UpdatedAt)
	}
	for _, t := range d.Texts {
		s.Texts = append(s.Texts, &surveyv1.SurveyText{Locale: t.Locale, Question: t.Question, LowLabel: t.LowLabel, HighLabel: t.HighLabel,
			ScoreLabels: t.ScoreLabels, CommentQuestion: t.CommentQuestion, ThankYou: t.ThankYou})
	}
	return s
}

func invitationProto(inv invitation.Invitation) *surveyv1.Invitation {
	c := inv.Customer
	p := &surveyv1.Invitation{InvitationId: inv.ID, SurveyId: inv.SurveyID, SurveyVersion: int32(inv.SurveyVersion), Touchpoint: inv.Touchpoint,
		Customer: &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID},
		Channel:  adapters.Channel(inv.Channel), Transactional: inv.Transactional, Status: surveyv1.InvitationStatus(inv.Status),
		SuppressionReason: surveyv1.SuppressionReason(inv.Reason), CreatedAt: ts(inv.CreatedAt), ExpiresAt: ts(inv.ExpiresAt), Detail: inv.Detail}
	if inv.Status != invitation.Suppressed {
		p.NotificationId = inv.NotificationID
	}
	if a := inv.Answer; a != nil {
		p.Answer = &surveyv1.Answer{Score: int32(a.Score), Comment: a.Comment, Sentiment: surveyv1.Sentiment(a.Sentiment), Topics: a.Topics,
			RespondedAt: ts(a.RespondedAt), UpdatedAt: ts(a.UpdatedAt)}
	}
	return p
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func kpisProto(b period.Bounds, f kpi.Figures) *surveyv1.ScoreKPIs {
	out := &surveyv1.ScoreKPIs{
		Bounds:      &reportv1.PeriodBounds{StartTime: ts(b.Start), EndTime: ts(b.End), Label: b.Label},
		Invitations: f.Invitations, Responses: f.Responses, ResponseRate: f.ResponseRate,
		Nps: &surveyv1.NpsKPIs{Responses: f.NPS.Responses, Promoters: f.NPS.Promoters, Passives: f.NPS.Passives, Detractors: f.NPS.Detractors,
			PromoterShare: f.NPS.PromoterShare, PassiveShare: f.NPS.PassiveShare, DetractorShare: f.NPS.DetractorShare, Score: f.NPS.Score},
		Csat: &surveyv1.CsatKPIs{Responses: f.CSAT.Responses, Mean: f.CSAT.Mean, Satisfied: f.CSAT.Satisfied, SatisfiedShare: f.CSAT.SatisfiedShare},
		Ces: &surveyv1.CesKPIs{Responses: f.CES.Responses, AgreementResponses: f.CES.AgreementResponses, MeanEffort: f.CES.MeanEffort,
			LowEffort: f.CES.LowEffort, LowEffortShare: f.CES.LowEffortShare},
		Sentiment: &surveyv1.SentimentKPIs{Comments: f.Sentiment.Comments, Positive: f.Sentiment.Positive, Neutral: f.Sentiment.Neutral,
			Negative: f.Sentiment.Negative, PositiveShare: f.Sentiment.PositiveShare, NeutralShare: f.Sentiment.NeutralShare, NegativeShare: f.Sentiment.NegativeShare},
	}
	for _, t := range f.TopTopics {
		out.TopTopics = append(out.TopTopics, &surveyv1.TopicCount{Topic: t.Topic, Comments: t.Comments, Negative: t.Negative})
	}
	return out
}

// toStatus maps use-case errors to gRPC codes; bad input is
// INVALID_ARGUMENT naming the field, with a google.rpc.BadRequest.
func toStatus(err error) error {
	var sf *survey.FieldError
	var pf *period.FieldError
	switch {
	case errors.As(err, &sf):
		return invalid(sf.Field, sf.Reason)
	case errors.As(err, &pf):
		return invalid(pf.Field, pf.Reason)
	case errors.Is(err, app.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, app.ErrExists):
		return status.Error(codes.AlreadyExists, "survey_id: a survey with this id exists")
	case errors.Is(err, app.ErrStaleVersion):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, app.ErrConflict):
		return status.Error(codes.Aborted, "changed concurrently; try again")
	case errors.Is(err, app.ErrArchived):
		return status.Error(codes.FailedPrecondition, "survey_id: the survey is archived")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

func invalid(field, reason string) error {
	st := status.New(codes.InvalidArgument, field+": "+reason)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: reason}}}); err == nil {
		st = d
	}
	return st.Err()
}
