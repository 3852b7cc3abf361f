package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Outbox publishes notification requests onto the NOTIFICATION_REQUESTS
// work queue and survey events into JOURNEY, each with a message id
// derived from the invitation.
type Outbox struct {
	js      jetstream.JetStream
	journey *journeystream.Publisher
	timeout time.Duration
}

// NewOutbox returns an outbox; timeout bounds one publish.
func NewOutbox(js jetstream.JetStream, pub *journeystream.Publisher, timeout time.Duration) (*Outbox, error) {
	if js == nil || pub == nil || timeout <= 0 {
		return nil, errors.New("outbox: jetstream, a journey publisher and a timeout are required")
	}
	return &Outbox{js: js, journey: pub, timeout: timeout}, nil
}

var _ app.Outbox = (*Outbox)(nil)

func customer(c invitation.Customer) *journeyv1.Customer {
	return &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
}

// Channel converts a domain channel to the contract's.
func Channel(c invitation.Channel) journeyv1.Channel {
	switch c {
	case invitation.Email:
		return journeyv1.Channel_CHANNEL_EMAIL
	case invitation.SMS:
		return journeyv1.Channel_CHANNEL_SMS
	}
	return journeyv1.Channel_CHANNEL_UNSPECIFIED
}

// Kind converts a domain survey kind to the contract's.
func Kind(k survey.Kind) journeyv1.SurveyKind {
	switch k {
	case survey.NPS:
		return journeyv1.SurveyKind_SURVEY_KIND_NPS
	case survey.CSAT:
		return journeyv1.SurveyKind_SURVEY_KIND_CSAT
	case survey.CES:
		return journeyv1.SurveyKind_SURVEY_KIND_CES
	}
	return journeyv1.SurveyKind_SURVEY_KIND_UNSPECIFIED
}

// SendInvitation implements app.Outbox: a SendRequest on
// cx.<tenant>.notification.send with Nats-Msg-Id
// <tenant>:survey:<invitation id>.
func (o *Outbox) SendInvitation(ctx context.Context, inv invitation.Invitation, template string, vars map[string]string) error {
	// A transactional invitation (a ticket's CSAT) is exempt from fatigue
	// and needs no marketing consent, but it is still a survey: held in the
	// customer's night like marketing, not sent at 3 a.m. like an OTP.
	cat := notificationv1.Category_CATEGORY_MARKETING
	if inv.Transactional {
		cat = notificationv1.Category_CATEGORY_SERVICE
	}
	req := &notificationv1.SendRequest{Tenant: inv.Tenant, NotificationId: inv.NotificationID, Customer: customer(inv.Customer), TemplateId: template,
		Channel: Channel(inv.Channel), Category: cat, Variables: vars, CauseEventId: inv.CauseEventID}
	data, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	subject := "cx." + inv.Tenant + ".notification.send"
	msgID := inv.Tenant + ":survey:" + inv.ID
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/protobuf; proto=cx.notification.v1.SendRequest")
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ctx, span := natstrace.StartPublish(ctx, subject, msgID, msg.Header)
	defer span.End()
	_, err = o.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(topology.NotificationRequests))
	return err
}

func (o *Outbox) event(inv invitation.Invitation, id, typ string, at time.Time) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: id, Tenant: inv.Tenant, Customer: customer(inv.Customer), Type: typ,
		OccurredAt: timestamppb.New(at), ReceivedAt: timestamppb.Now(), Source: "survey"}
}

func (o *Outbox) publish(ctx context.Context, ev *journeyv1.JourneyEvent) error {
	ack := o.journey.Publish(ctx, []*journeyv1.JourneyEvent{ev})[0]
	if ack.Err != nil {
		return fmt.Errorf("%s: %w", ev.GetType(), ack.Err)
	}
	return nil
}

// Invited implements app.Outbox: survey.invited with id
// <invitation>:invited.
func (o *Outbox) Invited(ctx context.Context, inv invitation.Invitation) error {
	ev := o.event(inv, inv.ID+":invited", "survey.invited", inv.CreatedAt)
	ev.Payload = &journeyv1.JourneyEvent_SurveyInvited{SurveyInvited: &journeyv1.SurveyInvited{SurveyId: inv.SurveyID, InvitationId: inv.ID,
		Kind: Kind(inv.Kind), Channel: Channel(inv.Channel), Touchpoint: inv.Touchpoint}}
	return o.publish(ctx, ev)
}

// Responded implements app.Outbox: survey.responded with id
// <invitation>:answer:<revision>, at the time of that revision, so the
// profile keeps the latest. A CES answer in the agree/disagree form is
// published on the effort scale (6 minus the answer): the event's CES
// score always means "lower is better", as rules read it.
func (o *Outbox) Responded(ctx context.Context, inv invitation.Invitation) error {
	a := inv.Answer
	if a == nil {
		return errors.New("outbox: the invitation has no answer")
	}
	score := a.Score
	if inv.Kind == survey.CES && inv.CesForm == survey.Agreement {
		score = 6 - score
	}
	ev := o.event(inv, inv.EventID(), "survey.responded", a.UpdatedAt)
	ev.Payload = &journeyv1.JourneyEvent_SurveyResponded{SurveyResponded: &journeyv1.SurveyResponded{SurveyId: inv.SurveyID, InvitationId: inv.ID,
		Kind: Kind(inv.Kind), Score: int32(score), Comment: a.Comment, Touchpoint: inv.Touchpoint}}
	return o.publish(ctx, ev)
}
