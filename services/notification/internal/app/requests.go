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

// Send records the notification as queued and puts it on the work queue,
// where the dispatcher takes it. A notification id already known returns
// that notification, duplicate true, and queues nothing.
func (r *Requests) Send(ctx context.Context, req *notification.Request) (*notification.Notification, bool, error) {
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	if n, _, err := r.ledger.Get(ctx, req.Tenant, req.ID); err == nil {
		return r.requeue(ctx, n)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	now := r.now()
	n := &notification.Notification{Request: *req, Status: notification.Queued, CreatedAt: now, UpdatedAt: now}
	if _, err := r.ledger.Create(ctx, n); errors.Is(err, ErrExists) {
		cur, _, gerr := r.ledger.Get(ctx, req.Tenant, req.ID)
		if gerr != nil {
			return nil, false, gerr
		}
		return r.requeue(ctx, cur)
	} else if err != nil {
		return nil, false, err
	}
	// Queued after the record: if the publish fails the caller retries, and
	// the retry (a duplicate by then) publishes again below.
	if err := r.queue.Enqueue(ctx, req); err != nil {
		return nil, false, err
	}
	return n, false, nil
}

// requeue answers a duplicate Send. A notification still queued and never
// tried may be one whose first Send failed to reach the queue: it is queued
// again, which is harmless — the ledger sends it once however often it is
// queued.
func (r *Requests) requeue(ctx context.Context, n *notification.Notification) (*notification.Notification, bool, error) {
	if n.Status == notification.Queued && len(n.Attempts) == 0 {
		if err := r.queue.Enqueue(ctx, &n.Request); err != nil {
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
