package journey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey"
)

// The known types are exactly DESIGN.md's list plus the segment and
// notification.suppressed types the profile and notification services add.
func TestKnownTypesMatchTheContract(t *testing.T) {
	t.Parallel()
	want := []string{
		"cart.updated", "customer.updated",
		"notification.delivered", "notification.failed", "notification.sent", "notification.suppressed",
		"order.cancelled", "order.delivered", "order.paid", "order.placed", "order.refunded", "order.shipped",
		"product.back_in_stock", "product.viewed",
		"segment.entered", "segment.exited",
		"survey.invited", "survey.responded",
		"task.completed", "task.created",
		"ticket.message", "ticket.opened", "ticket.reopened", "ticket.resolved",
		"trigger.fired",
	}
	if got := journey.KnownTypes(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("KnownTypes() =\n%v\nwant\n%v", got, want)
	}
	if info, _ := journey.Lookup("order.placed"); info.Internal || info.Payload.Name() != "order_placed" {
		t.Fatalf("order.placed = %+v", info)
	}
	for _, internal := range []string{"trigger.fired", "task.created", "notification.sent", "segment.entered", "survey.invited"} {
		if info, _ := journey.Lookup(internal); !info.Internal {
			t.Errorf("%s should be internal", internal)
		}
	}
	if info, _ := journey.Lookup("product.back_in_stock"); !info.Catalog {
		t.Error("product.back_in_stock should be a catalog event")
	}
}

func TestSubjectAndMsgID(t *testing.T) {
	t.Parallel()
	if got := journey.Subject("demo", "order.placed"); got != "cx.demo.journey.order.placed" {
		t.Fatalf("Subject = %q", got)
	}
	if got := journey.MsgID("demo", "e-1"); got != "demo:e-1" {
		t.Fatalf("MsgID = %q", got)
	}
	for _, bad := range []string{"", "Demo", "a.b", "a*", "a>", "-x", strings.Repeat("a", 64)} {
		if journey.CheckTenant(bad) == nil {
			t.Errorf("CheckTenant(%q) accepted", bad)
		}
	}
	if err := journey.CheckTenant("shop-1_ir"); err != nil {
		t.Errorf("CheckTenant(shop-1_ir) = %v", err)
	}
}

func TestDecodeAndValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rules := journey.Rules{Tenant: "demo", Now: now, MaxFuture: 5 * time.Minute}
	cases := []struct {
		name      string
		body      string
		wantField string // "" = valid
		wantIn    string // part of the reason
	}{
		{"order placed with exact toman", `{"id":"o-1","type":"order.placed","customer":{"customer_id":"c1"},"occurred_at":"2026-11-24T08:00:00+03:30","order_placed":{"order_id":"1001","total":{"currency":"IRT","amount":"1250000"},"items":[{"product":{"product_id":"p1"},"quantity":2}]}}`, "", ""},
		{"camelCase names accepted", `{"id":"o-2","type":"order.delivered","customer":{"customerId":"c1"},"orderDelivered":{"orderId":"1001"}}`, "", ""},
		{"custom event with properties", `{"id":"w-1","type":"wishlist.added","customer":{"anonymous_id":"a1"},"properties":{"product_id":"p9","n":3}}`, "", ""},
		{"catalog event needs no customer", `{"id":"s-1","type":"product.back_in_stock","product_back_in_stock":{"product":{"product_id":"p1"}}}`, "", ""},
		{"missing id", `{"type":"order.placed","customer":{"customer_id":"c1"},"order_placed":{"order_id":"1","total":{"currency":"IRR","amount":"1"}}}`, "id", "required"},
		{"missing type", `{"id":"x","customer":{"customer_id":"c1"}}`, "type", "required"},
		{"bad type syntax", `{"id":"x","type":"Order Placed","customer":{"customer_id":"c1"}}`, "type", "dotted lower-case"},
		{"missing identity", `{"id":"x","type":"wishlist.added","customer":{}}`, "customer", "at least one"},
		{"malformed timestamp", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"occurred_at":"25/11/2026"}`, "occurred_at", "RFC 3339"},
		{"timestamp without zone", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"occurred_at":"2026-11-25T10:00:00"}`, "occurred_at", "RFC 3339"},
		{"occurred far in the future", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"occurred_at":"2026-11-26T10:00:00Z"}`, "occurred_at", "in the future"},
		{"wrong JSON type", `{"id":5,"type":"wishlist.added","customer":{"customer_id":"c"}}`, "id", "must be a string, not a number"},
		{"wrong nested type", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"},"order_placed":{"order_id":"1","total":{"currency":"IRR","amount":"1"},"items":[{"product":{"product_id":"p"},"quantity":"two"}]}}`, "order_placed.items[0].quantity", "whole number"},
		{"unknown top-level field", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"colour":"red"}`, "colour", "not a field of JourneyEvent"},
		{"unknown nested field", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c","nickname":"z"}}`, "customer.nickname", "not a field of Customer"},
		{"payload does not match type", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"},"order_paid":{"order_id":"1"}}`, "order_paid", "does not match type order.placed"},
		{"known type without payload", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"}}`, "order_placed", "required"},
		{"custom type with typed payload", `{"id":"x","type":"wishlist.added","customer":{"customer_id":"c"},"order_paid":{"order_id":"1"}}`, "order_paid", "custom"},
		{"two payloads", `{"id":"x","type":"order.paid","customer":{"customer_id":"c"},"order_paid":{"order_id":"1"},"order_placed":{"order_id":"1"}}`, "order_placed", "cannot be sent together"},
		{"money as float", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"},"order_placed":{"order_id":"1","total":{"currency":"IRT","amount":"12.5.0"}}}`, "order_placed.total.amount", "decimal string"},
		{"order total missing", `{"id":"x","type":"order.placed","customer":{"customer_id":"c"},"order_placed":{"order_id":"1"}}`, "order_placed.total", "required"},
		{"unknown enum", `{"id":"x","type":"customer.updated","customer":{"customer_id":"c"},"customer_updated":{"preferred_channel":"PIGEON"}}`, "customer_updated.preferred_channel", "CHANNEL_SMS"},
		{"bad time zone", `{"id":"x","type":"customer.updated","customer":{"customer_id":"c"},"customer_updated":{"time_zone":"Mars/Olympus"}}`, "customer_updated.time_zone", "IANA"},
		{"NPS out of range", `{"id":"x","type":"survey.responded","customer":{"customer_id":"c"},"survey_responded":{"survey_id":"nps","kind":"SURVEY_KIND_NPS","score":11}}`, "survey_responded.score", "out of range 0-10"},
		{"internal type refused", `{"id":"x","type":"trigger.fired","customer":{"customer_id":"c"},"trigger_fired":{"rule_id":"r"}}`, "type", "published by Bazgasht"},
		{"other tenant in body", `{"id":"x","tenant":"other","type":"wishlist.added","customer":{"customer_id":"c"}}`, "tenant", "another tenant"},
		{"bad email", `{"id":"x","type":"wishlist.added","customer":{"email":"not-an-email"}}`, "customer.email", "not an email"},
		{"id with spaces", `{"id":"a b","type":"wishlist.added","customer":{"customer_id":"c"}}`, "id", "visible ASCII"},
		{"not JSON", `{"id":`, "", "not valid JSON"},
		{"array instead of object", `[1,2]`, "", "must be an object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, errs := journey.DecodeJSON([]byte(tc.body))
			if errs == nil {
				errs = journey.Validate(ev, rules)
			}
			if tc.wantIn == "" {
				if errs != nil {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if errs == nil {
				t.Fatalf("want an error on %q, got none", tc.wantField)
			}
			for _, e := range errs {
				if e.Field == tc.wantField && strings.Contains(e.Reason, tc.wantIn) {
					return
				}
			}
			t.Fatalf("want error on field %q containing %q, got %v", tc.wantField, tc.wantIn, errs)
		})
	}
}
