package activity_test

import (
	"testing"

	"github.com/bazgasht/bazgasht/platform/journey/activity"
)

func TestIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, eventType, source string
		want                    bool
	}{
		{"an order", "order.placed", "api", true},
		{"a view from a webhook", "product.viewed", "shopify", true},
		{"traits the shop sent", "customer.updated", "api", true},
		{"traits a rule set", "customer.updated", "trigger", false},
		{"a ticket", "ticket.opened", "api", true},
		{"a survey answer", "survey.responded", "survey", true},
		{"an invitation", "survey.invited", "survey", false},
		{"a message", "notification.sent", "notification", false},
		{"a segment change", "segment.entered", "profile", false},
		{"a firing", "trigger.fired", "trigger", false},
		{"a task", "task.created", "trigger", false},
		{"a catalog event", "product.back_in_stock", "api", false},
		{"a custom event", "wishlist.added", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := activity.Is(tt.eventType, tt.source); got != tt.want {
				t.Fatalf("Is(%q, %q) = %v, want %v", tt.eventType, tt.source, got, tt.want)
			}
		})
	}
}
