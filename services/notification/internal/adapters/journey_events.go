package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// JourneyEvents publishes outcomes as notification.* journey events. Each
// event's id is "notification:<notification id>:<outcome>", so publishing it
// again (after a crash, a redelivery) is deduplicated by the stream and by
// every consumer's own idempotency.
type JourneyEvents struct {
	pub *journeystream.Publisher
	now func() time.Time
}

var _ app.Events = (*JourneyEvents)(nil)

// NewJourneyEvents publishes through pub.
func NewJourneyEvents(pub *journeystream.Publisher, now func() time.Time) (*JourneyEvents, error) {
	if pub == nil || now == nil {
		return nil, errors.New("journey events: a publisher and a clock are required")
	}
	return &JourneyEvents{pub: pub, now: now}, nil
}

// EventID is the journey event id of a notification's outcome.
func EventID(notificationID string, outcome notification.Status) string {
	id := "notification:" + notificationID + ":" + string(outcome)
	if len(id) > journey.MaxIDLength {
		sum := sha256.Sum256([]byte(notificationID))
		id = "notification:" + hex.EncodeToString(sum[:16]) + ":" + string(outcome)
	}
	return id
}

// Publish implements app.Events.
func (j *JourneyEvents) Publish(ctx context.Context, outcomes ...app.Outcome) error {
	evs := make([]*journeyv1.JourneyEvent, 0, len(outcomes))
	for _, o := range outcomes {
		if ev := j.event(o); ev != nil {
			evs = append(evs, ev)
		}
	}
	for _, ack := range j.pub.Publish(ctx, evs) {
		if ack.Err != nil {
			return ack.Err
		}
	}
	return nil
}

func (j *JourneyEvents) event(o app.Outcome) *journeyv1.JourneyEvent {
	n := o.Notification
	req := n.Request
	at := o.At
	if at.IsZero() {
		at = j.now()
	}
	ev := &journeyv1.JourneyEvent{Id: EventID(req.ID, o.Type), Tenant: req.Tenant, Type: "notification." + string(o.Type),
		Customer:   &journeyv1.Customer{CustomerId: req.Customer.CustomerID, Email: req.Customer.Email, Phone: req.Customer.Phone, AnonymousId: req.Customer.AnonymousID},
		OccurredAt: timestamppb.New(at), ReceivedAt: timestamppb.New(j.now()), Source: "notification"}
	ch := ChannelToProto(o.Channel)
	switch o.Type {
	case notification.Sent:
		ev.Payload = &journeyv1.JourneyEvent_NotificationSent{NotificationSent: &journeyv1.NotificationSent{NotificationId: req.ID, Channel: ch,
			Template: req.TemplateID + "@" + strconv.Itoa(n.TemplateVersion), Provider: o.Provider, ProviderMessageId: o.MessageID,
			ProviderAnswer: o.Detail, FallbackReason: o.Reason}}
	case notification.Delivered:
		ev.Payload = &journeyv1.JourneyEvent_NotificationDelivered{NotificationDelivered: &journeyv1.NotificationDelivered{NotificationId: req.ID, Channel: ch, Provider: o.Provider}}
	case notification.Failed:
		ev.Payload = &journeyv1.JourneyEvent_NotificationFailed{NotificationFailed: &journeyv1.NotificationFailed{NotificationId: req.ID, Channel: ch,
			Provider: o.Provider, Reason: o.Reason, Permanent: o.Permanent}}
	case notification.Suppressed:
		ev.Payload = &journeyv1.JourneyEvent_NotificationSuppressed{NotificationSuppressed: &journeyv1.NotificationSuppressed{NotificationId: req.ID, Channel: ch, Reason: o.Reason}}
	default:
		return nil
	}
	return ev
}
