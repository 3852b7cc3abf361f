package app

import (
	"context"
	"errors"
	"strings"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
)

// NotificationOutcome takes what the notification service decided about
// an invitation's message (notification id "survey:<invitation>"): a
// message held back makes the invitation suppressed, one that failed on
// every channel makes it failed — either way, not sent, so it does not
// count in the response rate — and the customer's fatigue period, claimed
// for a message that never went out, is given back. Other notifications,
// unknown invitations and invitations already answered are left alone.
func (a *App) NotificationOutcome(ctx context.Context, tenant, notificationID string, failed bool, detail string) error {
	id, ok := strings.CutPrefix(notificationID, "survey:")
	if !ok {
		return nil
	}
	for range maxAttempts {
		inv, rev, err := a.invs.Get(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if inv.Status != invitation.Sent && inv.Status != invitation.Pending {
			return nil
		}
		if failed {
			inv.Status = invitation.Failed
		} else {
			inv.Status, inv.Reason = invitation.Suppressed, invitation.NotDelivered
		}
		inv.Detail = detail
		if _, err := a.invs.Update(ctx, inv, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return err
		}
		if inv.FatigueKey == "" {
			return nil
		}
		claim, crev, err := a.fatigue.Get(ctx, tenant, inv.FatigueKey)
		if err != nil || claim.InvitationID != inv.ID {
			return err // claimed by a later invitation since, or none
		}
		// A failed release (another claim raced in) keeps the period: the
		// quiet side.
		_ = a.fatigue.Release(ctx, tenant, inv.FatigueKey, crev)
		return nil
	}
	return ErrConflict
}
