package ports_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
)

// TestTemplatesAPI: versions, defaults every tenant sees, tenants kept
// apart, and bad input named by field.
func TestTemplatesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	sms := func(text string) *notificationv1.Template {
		return &notificationv1.Template{TemplateId: "otp", Description: "one-time code", DefaultCategory: txn,
			Contents: []*notificationv1.TemplateContent{{Channel: smsCh, Locale: "fa", TextBody: text}}}
	}
	created, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: sms("کد: {{.Vars.code}}")})
	if err != nil || created.GetTemplate().GetVersion() != 1 {
		t.Fatalf("create = %v, %v", created, err)
	}
	if _, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: sms("x")}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second create = %v, want ALREADY_EXISTS", err)
	}
	up, err := e.api.UpdateTemplate(ctx, &notificationv1.UpdateTemplateRequest{Tenant: "shop-a", Template: sms("کد شما: {{.Vars.code}}"), ExpectedVersion: 1})
	if err != nil || up.GetTemplate().GetVersion() != 2 {
		t.Fatalf("update = %v, %v", up, err)
	}
	if _, err := e.api.UpdateTemplate(ctx, &notificationv1.UpdateTemplateRequest{Tenant: "shop-a", Template: sms("stale"), ExpectedVersion: 1}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale update = %v, want ABORTED", err)
	}
	v1, err := e.api.GetTemplate(ctx, &notificationv1.GetTemplateRequest{Tenant: "shop-a", TemplateId: "otp", Version: 1})
	if err != nil || v1.GetTemplate().GetContents()[0].GetTextBody() != "کد: {{.Vars.code}}" {
		t.Fatalf("version 1 = %v, %v", v1, err)
	}
	cur, err := e.api.GetTemplate(ctx, &notificationv1.GetTemplateRequest{Tenant: "shop-a", TemplateId: "otp"})
	if err != nil || cur.GetTemplate().GetVersion() != 2 {
		t.Fatalf("current = %v, %v", cur, err)
	}
	// Another tenant does not see it, but sees the defaults.
	if _, err := e.api.GetTemplate(ctx, &notificationv1.GetTemplateRequest{Tenant: "shop-b", TemplateId: "otp"}); status.Code(err) != codes.NotFound {
		t.Fatalf("other tenant's get = %v, want NOT_FOUND", err)
	}
	list, err := e.api.ListTemplates(ctx, &notificationv1.ListTemplatesRequest{Tenant: "shop-b"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list.GetTemplates() {
		ids = append(ids, x.GetTemplateId())
	}
	if strings.Join(ids, ",") != "back-in-stock,big-order-thanks,survey-invitation,viewed-discount,vip-welcome,winback" {
		t.Fatalf("shop-b templates %v, want the defaults only", ids)
	}
	// Paging, and the tenant's own among the defaults.
	page1, err := e.api.ListTemplates(ctx, &notificationv1.ListTemplatesRequest{Tenant: "shop-a", PageSize: 4})
	if err != nil || len(page1.GetTemplates()) != 4 || page1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %d templates, token %q, %v", len(page1.GetTemplates()), page1.GetNextPageToken(), err)
	}
	page2, err := e.api.ListTemplates(ctx, &notificationv1.ListTemplatesRequest{Tenant: "shop-a", PageSize: 4, PageToken: page1.GetNextPageToken()})
	idsOf := func(r *notificationv1.ListTemplatesResponse) (out []string) {
		for _, x := range r.GetTemplates() {
			out = append(out, x.GetTemplateId())
		}
		return out
	}
	if err != nil || page2.GetNextPageToken() != "" ||
		strings.Join(append(idsOf(page1), idsOf(page2)...), ",") != "back-in-stock,big-order-thanks,otp,survey-invitation,viewed-discount,vip-welcome,winback" {
		t.Fatalf("pages %v then %v, %v", idsOf(page1), idsOf(page2), err)
	}
	// A default is customised by updating it: version 2 for this tenant only.
	def, err := e.api.GetTemplate(ctx, &notificationv1.GetTemplateRequest{Tenant: "shop-a", TemplateId: "winback"})
	if err != nil || def.GetTemplate().GetVersion() != 1 {
		t.Fatalf("default winback = %v, %v", def, err)
	}
	mine := def.GetTemplate()
	mine.Contents = mine.Contents[:1]
	if got, err := e.api.UpdateTemplate(ctx, &notificationv1.UpdateTemplateRequest{Tenant: "shop-a", Template: mine, ExpectedVersion: 1}); err != nil || got.GetTemplate().GetVersion() != 2 {
		t.Fatalf("customising winback = %v, %v", got, err)
	}
	if got, _ := e.api.GetTemplate(ctx, &notificationv1.GetTemplateRequest{Tenant: "shop-b", TemplateId: "winback"}); got.GetTemplate().GetVersion() != 1 || len(got.GetTemplate().GetContents()) != 4 {
		t.Fatalf("shop-b's winback changed: %v", got)
	}
	if _, err := e.api.CreateTemplate(ctx, &notificationv1.CreateTemplateRequest{Tenant: "shop-b", Template: mine}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("creating over a default = %v, want ALREADY_EXISTS", err)
	}

	bad := []struct {
		name  string
		req   *notificationv1.CreateTemplateRequest
		field string
	}{
		{"no tenant", &notificationv1.CreateTemplateRequest{Template: sms("x")}, "tenant"},
		{"bad id", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "Bad Id", Contents: sms("x").Contents}}, "template.template_id"},
		{"no contents", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "empty"}}, "template.contents"},
		{"email without subject", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "e",
			Contents: []*notificationv1.TemplateContent{{Channel: email, Locale: "en", TextBody: "hi"}}}}, "template.contents[0].subject"},
		{"no channel", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "c",
			Contents: []*notificationv1.TemplateContent{{Locale: "en", TextBody: "hi"}}}}, "template.contents[0].channel"},
		{"bad text syntax", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "s",
			Contents: []*notificationv1.TemplateContent{{Channel: smsCh, Locale: "en", TextBody: "hi {{.Vars.x"}}}}, "template.contents[0].text_body"},
		{"unknown helper", &notificationv1.CreateTemplateRequest{Tenant: "shop-a", Template: &notificationv1.Template{TemplateId: "h",
			Contents: []*notificationv1.TemplateContent{{Channel: smsCh, Locale: "en", TextBody: "{{nope .Vars.x}}"}}}}, "template.contents[0].text_body"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.api.CreateTemplate(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field+": ") {
				t.Fatalf("= %v, want INVALID_ARGUMENT naming %s", err, tc.field)
			}
		})
	}
}

// TestSendValidation: bad requests are refused naming the field, and an
// unknown notification is NOT_FOUND.
func TestSendValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	c := &journeyv1.Customer{CustomerId: "x"}
	cases := []struct {
		name  string
		req   *notificationv1.SendRequest
		field string
	}{
		{"no tenant", &notificationv1.SendRequest{NotificationId: "n", Customer: c, TemplateId: "winback"}, "tenant"},
		{"bad tenant", &notificationv1.SendRequest{Tenant: "Shop A", NotificationId: "n", Customer: c, TemplateId: "winback"}, "tenant"},
		{"no id", &notificationv1.SendRequest{Tenant: "v", Customer: c, TemplateId: "winback"}, "notification_id"},
		{"id with spaces", &notificationv1.SendRequest{Tenant: "v", NotificationId: "a b", Customer: c, TemplateId: "winback"}, "notification_id"},
		{"no customer", &notificationv1.SendRequest{Tenant: "v", NotificationId: "n", TemplateId: "winback"}, "customer"},
		{"no template", &notificationv1.SendRequest{Tenant: "v", NotificationId: "n", Customer: c}, "template_id"},
		{"unknown channel", &notificationv1.SendRequest{Tenant: "v", NotificationId: "n", Customer: c, TemplateId: "winback", Channel: 42}, "channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.api.Send(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), tc.field+": ") {
				t.Fatalf("= %v, want INVALID_ARGUMENT naming %s", err, tc.field)
			}
		})
	}
	if _, err := e.api.GetStatus(ctx, &notificationv1.GetStatusRequest{Tenant: "v", NotificationId: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetStatus of an unknown id = %v, want NOT_FOUND", err)
	}
	// A template that does not exist fails the notification, saying so.
	if _, err := e.api.Send(ctx, &notificationv1.SendRequest{Tenant: "v", NotificationId: "ghost", Customer: c, TemplateId: "ghost", Category: txn}); err != nil {
		t.Fatal(err)
	}
	n := e.status(t, "v", "ghost", notificationv1.Status_STATUS_FAILED)
	if !strings.Contains(n.GetReason(), "ghost") {
		t.Fatalf("reason %q", n.GetReason())
	}
	// Tenants are apart: another tenant's GetStatus of the same id is
	// NOT_FOUND.
	if _, err := e.api.GetStatus(ctx, &notificationv1.GetStatusRequest{Tenant: "w", NotificationId: "ghost"}); status.Code(err) != codes.NotFound {
		t.Fatalf("other tenant's GetStatus = %v, want NOT_FOUND", err)
	}
}
