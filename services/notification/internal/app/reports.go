package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// Reports records what customers and providers tell the service after a
// message went out: unsubscribes and delivery reports.
type Reports struct {
	ledger Ledger
	unsubs Unsubscribes
	events Events
	now    func() time.Time
}

// NewReports checks its dependencies.
func NewReports(ledger Ledger, unsubs Unsubscribes, events Events, now func() time.Time) (*Reports, error) {
	if ledger == nil || unsubs == nil || events == nil || now == nil {
		return nil, errors.New("reports: ledger, unsubscribes, events and clock are required")
	}
	return &Reports{ledger: ledger, unsubs: unsubs, events: events, now: now}, nil
}

// Unsubscribe records that the customer left the channel; every later send
// on it is suppressed.
func (r *Reports) Unsubscribe(ctx context.Context, tenant, customerKey string, ch notification.Channel) error {
	if !ch.Valid() || customerKey == "" {
		return fmt.Errorf("%w: unsubscribe needs a customer and a channel", notification.ErrInvalid)
	}
	return r.unsubs.Unsubscribe(ctx, tenant, customerKey, ch, r.now())
}

// DeliveryStatus is what a provider reported.
type DeliveryStatus int

// The delivery statuses.
const (
	// StillSending: queued or in transit at the provider; nothing to record.
	StillSending DeliveryStatus = iota
	// DeliveredOK: delivered to the handset or mailbox.
	DeliveredOK
	// Undeliverable: the provider gave up.
	Undeliverable
)

// ErrNotYet is a delivery report for a message whose send is not recorded
// yet: the provider should send it again (HTTP 503).
var ErrNotYet = errors.New("the message's send is not recorded yet")

// Delivery records a provider's delivery report for its message id. An
// unknown id is ErrNotFound; a report repeated is recorded once; one that
// came before the send was recorded is ErrNotYet.
func (r *Reports) Delivery(ctx context.Context, provider, messageID string, st DeliveryStatus, detail string) error {
	if st == StillSending {
		return nil
	}
	tenant, id, err := r.ledger.ProviderMessage(ctx, provider, messageID)
	if err != nil {
		return err
	}
	for range 4 {
		n, rev, err := r.ledger.Get(ctx, tenant, id)
		if err != nil {
			return err
		}
		switch n.Status {
		case notification.Sent:
		case notification.Sending, notification.Queued:
			// The provider answered before the send was recorded (the
			// message id is indexed just before): the report must come
			// again, not be dropped.
			return ErrNotYet
		default: // delivered or failed already
			return nil
		}
		o := Outcome{Notification: n, Channel: n.Channel, Provider: provider, MessageID: messageID, At: r.now()}
		if st == DeliveredOK {
			n.Status, n.DeliveredAt, o.Type = notification.Delivered, o.At, notification.Delivered
		} else {
			n.Status, n.Reason, o.Type, o.Reason, o.Permanent = notification.Failed, "undeliverable: "+detail, notification.Failed, "undeliverable: "+detail, true
		}
		n.UpdatedAt = o.At
		if _, err := r.ledger.Update(ctx, n, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return err
		}
		return r.events.Publish(ctx, o)
	}
	return ErrConflict
}
