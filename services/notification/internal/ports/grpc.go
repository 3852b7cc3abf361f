// Package ports is how the notification service is reached: gRPC
// (NotificationService), the NOTIFICATION_REQUESTS work queue, and HTTP for
// unsubscribe links and SMS delivery reports.
package ports

import (
	"context"
	"encoding/base64"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// GRPC serves cx.notification.v1.NotificationService.
type GRPC struct {
	notificationv1.UnimplementedNotificationServiceServer
	requests  *app.Requests
	templates *app.Templates
}

// NewGRPC checks its dependencies.
func NewGRPC(requests *app.Requests, templates *app.Templates) (*GRPC, error) {
	if requests == nil || templates == nil {
		return nil, errors.New("ports: requests and templates are required")
	}
	return &GRPC{requests: requests, templates: templates}, nil
}

func checkTenant(t string) error {
	if t == "" {
		return invalid("tenant", "is required")
	}
	if err := journey.CheckTenant(t); err != nil {
		return invalid("tenant", err.Error())
	}
	return nil
}

// Send implements NotificationService.Send.
func (g *GRPC) Send(ctx context.Context, req *notificationv1.SendRequest) (*notificationv1.SendResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	r, err := adapters.RequestFromProto(req)
	if err != nil {
		return nil, statusOf(err)
	}
	n, dup, err := g.requests.Send(ctx, r)
	if err != nil {
		return nil, statusOf(err)
	}
	return &notificationv1.SendResponse{Notification: adapters.NotificationToProto(n), Duplicate: dup}, nil
}

// GetStatus implements NotificationService.GetStatus.
func (g *GRPC) GetStatus(ctx context.Context, req *notificationv1.GetStatusRequest) (*notificationv1.GetStatusResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	if req.GetNotificationId() == "" {
		return nil, invalid("notification_id", "is required")
	}
	n, err := g.requests.Status(ctx, req.GetTenant(), req.GetNotificationId())
	if errors.Is(err, app.ErrNotFound) {
		return nil, status.Error(codes.NotFound, "notification_id: no such notification")
	}
	if err != nil {
		return nil, statusOf(err)
	}
	return &notificationv1.GetStatusResponse{Notification: adapters.NotificationToProto(n)}, nil
}

// CreateTemplate implements NotificationService.CreateTemplate.
func (g *GRPC) CreateTemplate(ctx context.Context, req *notificationv1.CreateTemplateRequest) (*notificationv1.CreateTemplateResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	if req.GetTemplate() == nil {
		return nil, invalid("template", "is required")
	}
	t, err := g.templates.Create(ctx, req.GetTenant(), adapters.TemplateFromProto(req.GetTemplate()))
	if err != nil {
		return nil, statusOf(err)
	}
	return &notificationv1.CreateTemplateResponse{Template: adapters.TemplateToProto(t)}, nil
}

// UpdateTemplate implements NotificationService.UpdateTemplate.
func (g *GRPC) UpdateTemplate(ctx context.Context, req *notificationv1.UpdateTemplateRequest) (*notificationv1.UpdateTemplateResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	if req.GetTemplate() == nil {
		return nil, invalid("template", "is required")
	}
	if req.GetExpectedVersion() < 0 {
		return nil, invalid("expected_version", "must not be negative")
	}
	t, err := g.templates.Update(ctx, req.GetTenant(), adapters.TemplateFromProto(req.GetTemplate()), int(req.GetExpectedVersion()))
	if err != nil {
		return nil, statusOf(err)
	}
	return &notificationv1.UpdateTemplateResponse{Template: adapters.TemplateToProto(t)}, nil
}

// GetTemplate implements NotificationService.GetTemplate.
func (g *GRPC) GetTemplate(ctx context.Context, req *notificationv1.GetTemplateRequest) (*notificationv1.GetTemplateResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	if req.GetTemplateId() == "" {
		return nil, invalid("template_id", "is required")
	}
	if req.GetVersion() < 0 {
		return nil, invalid("version", "must not be negative")
	}
	t, err := g.templates.Resolve(ctx, req.GetTenant(), req.GetTemplateId(), int(req.GetVersion()))
	if errors.Is(err, app.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "template_id: no template %q at version %d", req.GetTemplateId(), req.GetVersion())
	}
	if err != nil {
		return nil, statusOf(err)
	}
	return &notificationv1.GetTemplateResponse{Template: adapters.TemplateToProto(t)}, nil
}

// ListTemplates implements NotificationService.ListTemplates. The page
// token is the last id of the previous page.
func (g *GRPC) ListTemplates(ctx context.Context, req *notificationv1.ListTemplatesRequest) (*notificationv1.ListTemplatesResponse, error) {
	if err := checkTenant(req.GetTenant()); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > 1000:
		return nil, invalid("page_size", "must be between 0 and 1000")
	case size == 0:
		size = 100
	}
	after := ""
	if tok := req.GetPageToken(); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, invalid("page_token", "is not a token this service gave")
		}
		after = string(b)
	}
	all, err := g.templates.List(ctx, req.GetTenant(), adapters.ChannelFromProto(req.GetChannel()))
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &notificationv1.ListTemplatesResponse{}
	for _, t := range all {
		if t.ID <= after {
			continue
		}
		if len(resp.Templates) == size {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(resp.Templates[size-1].GetTemplateId()))
			break
		}
		resp.Templates = append(resp.Templates, adapters.TemplateToProto(t))
	}
	return resp, nil
}

// statusOf maps app and domain errors to gRPC codes.
func statusOf(err error) error {
	var fe *notification.FieldError
	switch {
	case errors.As(err, &fe):
		return invalid(fe.Field, fe.Problem)
	case errors.Is(err, app.ErrDefaultExists):
		return status.Error(codes.AlreadyExists, "template.template_id: "+err.Error())
	case errors.Is(err, app.ErrExists):
		return status.Error(codes.AlreadyExists, "template.template_id: a template with this id exists; update it instead")
	case errors.Is(err, app.ErrConflict):
		return status.Error(codes.Aborted, "expected_version: "+err.Error()+"; read the template again and reapply the change")
	case errors.Is(err, app.ErrNotFound):
		return status.Error(codes.NotFound, "template.template_id: no such template; create it first")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "notification store unavailable; retry")
}

// invalid is INVALID_ARGUMENT naming the field, with the field in the
// details too.
func invalid(field, problem string) error {
	st := status.New(codes.InvalidArgument, field+": "+problem)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: problem}}}); err == nil {
		st = d
	}
	return st.Err()
}
