package adapters

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// RequestFromProto converts a SendRequest; the triggering event becomes the
// JSON document templates see as .Event (proto field names).
func RequestFromProto(r *notificationv1.SendRequest) (*notification.Request, error) {
	req := &notification.Request{Tenant: r.GetTenant(), ID: r.GetNotificationId(), TemplateID: r.GetTemplateId(),
		TemplateVersion: int(r.GetTemplateVersion()), Channel: ChannelFromProto(r.GetChannel()), Category: CategoryFromProto(r.GetCategory()),
		DisableFallback: r.GetDisableFallback(), Vars: r.GetVariables(), CauseEventID: r.GetCauseEventId()}
	if c := r.GetCustomer(); c != nil {
		req.Customer = notification.Customer{CustomerID: c.GetCustomerId(), Email: c.GetEmail(), Phone: c.GetPhone(), AnonymousID: c.GetAnonymousId()}
	}
	if r.GetChannel() != journeyv1.Channel_CHANNEL_UNSPECIFIED && req.Channel == "" {
		return nil, &notification.FieldError{Field: "channel", Problem: fmt.Sprintf("%v is not a channel", r.GetChannel())}
	}
	if ev := r.GetEvent(); ev != nil {
		data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
		if err != nil {
			return nil, &notification.FieldError{Field: "event", Problem: err.Error()}
		}
		if err := json.Unmarshal(data, &req.Event); err != nil {
			return nil, &notification.FieldError{Field: "event", Problem: err.Error()}
		}
	}
	if req.Event == nil {
		req.Event = map[string]any{}
	}
	return req, req.Validate()
}

// RequestToProto converts a request back for the work queue.
func RequestToProto(r *notification.Request) (*notificationv1.SendRequest, error) {
	out := &notificationv1.SendRequest{Tenant: r.Tenant, NotificationId: r.ID, TemplateId: r.TemplateID, TemplateVersion: int32(r.TemplateVersion),
		Customer: &journeyv1.Customer{CustomerId: r.Customer.CustomerID, Email: r.Customer.Email, Phone: r.Customer.Phone, AnonymousId: r.Customer.AnonymousID},
		Channel:  ChannelToProto(r.Channel), Category: CategoryToProto(r.Category), DisableFallback: r.DisableFallback, Variables: r.Vars, CauseEventId: r.CauseEventID}
	if len(r.Event) > 0 {
		data, err := json.Marshal(r.Event)
		if err != nil {
			return nil, err
		}
		out.Event = &journeyv1.JourneyEvent{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, out.Event); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CategoryFromProto maps a proto category; "" for unspecified.
func CategoryFromProto(c notificationv1.Category) notification.Category {
	switch c {
	case notificationv1.Category_CATEGORY_MARKETING:
		return notification.Marketing
	case notificationv1.Category_CATEGORY_SERVICE:
		return notification.Service
	case notificationv1.Category_CATEGORY_TRANSACTIONAL:
		return notification.Transactional
	}
	return ""
}

// CategoryToProto maps a domain category.
func CategoryToProto(c notification.Category) notificationv1.Category {
	switch c {
	case notification.Marketing:
		return notificationv1.Category_CATEGORY_MARKETING
	case notification.Transactional:
		return notificationv1.Category_CATEGORY_TRANSACTIONAL
	case notification.Service:
		return notificationv1.Category_CATEGORY_SERVICE
	}
	return notificationv1.Category_CATEGORY_UNSPECIFIED
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var statusToProto = map[notification.Status]notificationv1.Status{
	notification.Queued: notificationv1.Status_STATUS_QUEUED, notification.Held: notificationv1.Status_STATUS_HELD,
	// A notification in the hands of a provider is still queued to the
	// caller: it has not been accepted yet.
	notification.Sending: notificationv1.Status_STATUS_QUEUED, notification.Sent: notificationv1.Status_STATUS_SENT,
	notification.Delivered: notificationv1.Status_STATUS_DELIVERED, notification.Failed: notificationv1.Status_STATUS_FAILED,
	notification.Suppressed: notificationv1.Status_STATUS_SUPPRESSED,
}

var outcomeToProto = map[notification.Outcome]notificationv1.AttemptOutcome{
	notification.Accepted: notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_ACCEPTED, notification.Transient: notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_TRANSIENT_ERROR,
	notification.Permanent: notificationv1.AttemptOutcome_ATTEMPT_OUTCOME_PERMANENT_ERROR,
}

// NotificationToProto converts a ledger record for the API.
func NotificationToProto(n *notification.Notification) *notificationv1.Notification {
	r := n.Request
	out := &notificationv1.Notification{NotificationId: r.ID, TemplateId: r.TemplateID, TemplateVersion: int32(n.TemplateVersion),
		Customer: &journeyv1.Customer{CustomerId: r.Customer.CustomerID, Email: r.Customer.Email, Phone: r.Customer.Phone, AnonymousId: r.Customer.AnonymousID},
		Category: CategoryToProto(n.Category), RequestedChannel: ChannelToProto(r.Channel), Channel: ChannelToProto(n.Channel),
		Status: statusToProto[n.Status], Reason: n.Reason, CreatedAt: ts(n.CreatedAt), ScheduledAt: ts(n.ScheduledAt), SentAt: ts(n.SentAt),
		DeliveredAt: ts(n.DeliveredAt), UpdatedAt: ts(n.UpdatedAt), Fallbacks: n.Skipped}
	if out.Category == notificationv1.Category_CATEGORY_UNSPECIFIED {
		out.Category = CategoryToProto(r.Category)
	}
	for _, a := range n.Attempts {
		out.Attempts = append(out.Attempts, &notificationv1.Attempt{Channel: ChannelToProto(a.Channel), Provider: a.Provider,
			ProviderMessageId: a.ProviderMessageID, Outcome: outcomeToProto[a.Outcome], Detail: a.Detail, AttemptedAt: ts(a.At)})
	}
	return out
}

// TemplateFromProto converts an API template; the version and time are the
// service's to set.
func TemplateFromProto(t *notificationv1.Template) template.Template {
	out := template.Template{ID: t.GetTemplateId(), Description: t.GetDescription(), DefaultCategory: CategoryFromProto(t.GetDefaultCategory())}
	for _, c := range t.GetContents() {
		out.Contents = append(out.Contents, template.Content{Channel: ChannelFromProto(c.GetChannel()), Locale: c.GetLocale(),
			Subject: c.GetSubject(), Text: c.GetTextBody(), HTML: c.GetHtmlBody()})
	}
	return out
}

// TemplateToProto converts a template for the API.
func TemplateToProto(t *template.Template) *notificationv1.Template {
	out := &notificationv1.Template{TemplateId: t.ID, Version: int32(t.Version), Description: t.Description,
		DefaultCategory: CategoryToProto(t.DefaultCategory), UpdatedAt: ts(t.UpdatedAt)}
	for _, c := range t.Contents {
		out.Contents = append(out.Contents, &notificationv1.TemplateContent{Channel: ChannelToProto(c.Channel), Locale: c.Locale,
			Subject: c.Subject, TextBody: c.Text, HtmlBody: c.HTML})
	}
	return out
}
