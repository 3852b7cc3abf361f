package app

import (
	"context"
	"errors"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// Requests accepts notifications over the API and answers for their status.
type Requests struct {
	ledger Ledger
	queue  Queue
	now    func() time.Time
}

// NewRequests checks its dependencies.
func NewRequests(ledger Ledger, queue Queue, now func() time.Time) (*Requests, error) {
	if ledger == nil || queue == nil || now == nil {
		return nil, errors.New("requests: ledger, queue and clock are required")
	}
	return &Requests{ledger: ledger, queue: queue, now: now}, nil
}

// Send puts the notification on the work queue, where the dispatcher takes
// it, and records it as queued. A notification id already known returns
// that notification, duplicate true, and queues it only when it may never
// have reached the queue.
//
// The queue comes first: a Send that fails leaves nothing behind — no
// record "queued" that nothing would ever send — and one that succeeds is
// durably queued even if the record cannot be written, since the
// dispatcher records a request it finds no record of.
func (r *Requests) Send(ctx context.Context, req *notification.Request) (*notification.Notification, bool, error) {
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	if n, _, err := r.ledger.Get(ctx, req.Tenant, req.ID); err == nil {
		return r.requeue(ctx, n)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	duplicate, err := r.queue.Enqueue(ctx, req)
	if err != nil {
		return nil, false, err
	}
	now := r.now()
	n := &notification.Notification{Request: *req, Status: notification.Queued, CreatedAt: now, UpdatedAt: now}
	if _, err := r.ledger.Create(ctx, n); err != nil {
		// The dispatcher (or a concurrent Send) recorded it first; or the
		// record could not be written, and the dispatcher will write it.
		if cur, _, gerr := r.ledger.Get(ctx, req.Tenant, req.ID); gerr == nil {
			return cur, duplicate, nil
		}
	}
	return n, duplicate, nil
}

// requeue answers a duplicate Send. A notification still queued and never
// tried may be one whose request left the queue unprocessed (a queue
// purged, a record written by an older version before its request): it is
// queued again, which is harmless — the ledger sends it once however often
// it is queued.
func (r *Requests) requeue(ctx context.Context, n *notification.Notification) (*notification.Notification, bool, error) {
	if n.Status == notification.Queued && len(n.Attempts) == 0 {
		if _, err := r.queue.Enqueue(ctx, &n.Request); err != nil {
			return nil, false, err
		}
	}
	return n, true, nil
}

// Status returns a notification, or ErrNotFound.
func (r *Requests) Status(ctx context.Context, tenant, id string) (*notification.Notification, error) {
	n, _, err := r.ledger.Get(ctx, tenant, id)
	return n, err
}
