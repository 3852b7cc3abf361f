package ports

import (
	"context"

	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
)

// OutcomeHandler hands the notification service's notification.failed and
// notification.suppressed events to the app, which marks the invitations
// whose message never went out.
func OutcomeHandler(a *app.App) journeystream.Handler {
	return func(ctx context.Context, batch []*journeystream.Delivery) []error {
		errs := make([]error, len(batch))
		for i, d := range batch {
			ev := d.Event
			switch {
			case ev.GetNotificationFailed() != nil:
				f := ev.GetNotificationFailed()
				errs[i] = a.NotificationOutcome(d.Ctx, ev.GetTenant(), f.GetNotificationId(), true, f.GetReason())
			case ev.GetNotificationSuppressed() != nil:
				s := ev.GetNotificationSuppressed()
				errs[i] = a.NotificationOutcome(d.Ctx, ev.GetTenant(), s.GetNotificationId(), false, s.GetReason())
			}
		}
		return errs
	}
}
