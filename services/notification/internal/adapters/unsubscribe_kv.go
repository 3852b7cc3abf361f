package adapters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// UnsubscribeKV keeps unsubscribes in NOTIFICATION_UNSUBSCRIBES, key
// <tenant>.<customer>.<channel>, and mirrors the bucket in memory through a
// watch: every send checks them, and a memory lookup keeps that off the
// network. An unsubscribe recorded by any replica reaches every mirror
// within milliseconds; Unsubscribe waits for its own.
type UnsubscribeKV struct {
	kv    jetstream.KeyValue
	mu    sync.RWMutex
	set   map[string]bool
	ready chan struct{}
	rev   uint64
}

var _ app.Unsubscribes = (*UnsubscribeKV)(nil)

// NewUnsubscribeKV opens the bucket; Run keeps the mirror.
func NewUnsubscribeKV(ctx context.Context, js jetstream.JetStream) (*UnsubscribeKV, error) {
	kv, err := js.KeyValue(ctx, topology.NotificationUnsubscribes)
	if err != nil {
		return nil, fmt.Errorf("unsubscribes: %w", err)
	}
	u := &UnsubscribeKV{kv: kv, set: map[string]bool{}, ready: make(chan struct{})}
	return u, nil
}

func unsubKey(tenant, customer string, ch notification.Channel) string {
	return tenant + "." + token(customer) + "." + string(ch)
}

// Run mirrors the bucket until ctx ends.
func (u *UnsubscribeKV) Run(ctx context.Context) error {
	w, err := u.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("unsubscribes: watch: %w", err)
	}
	defer w.Stop()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				// A mirror that stopped following the bucket would let
				// sends ignore new unsubscribes: stop the service instead.
				return errors.New("unsubscribes: the bucket's watch ended")
			}
			if e == nil {
				if initial {
					initial = false
					close(u.ready)
				}
				continue
			}
			u.mu.Lock()
			u.set[e.Key()] = e.Operation() == jetstream.KeyValuePut
			u.rev = max(u.rev, e.Revision())
			u.mu.Unlock()
		}
	}
}

// WaitReady returns once the mirror holds the whole bucket.
func (u *UnsubscribeKV) WaitReady(ctx context.Context) error {
	select {
	case <-u.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports, without waiting, whether the mirror is complete: a
// readiness probe.
func (u *UnsubscribeKV) Ready(context.Context) error {
	select {
	case <-u.ready:
		return nil
	default:
		return errors.New("unsubscribes not loaded yet")
	}
}

// Unsubscribed implements app.Unsubscribes.
func (u *UnsubscribeKV) Unsubscribed(tenant, customer string, ch notification.Channel) bool {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.set[unsubKey(tenant, customer, ch)]
}

// Unsubscribe implements app.Unsubscribes; it returns once this replica's
// mirror has it, so the next send here honours it.
func (u *UnsubscribeKV) Unsubscribe(ctx context.Context, tenant, customer string, ch notification.Channel, at time.Time) error {
	rev, err := u.kv.Put(ctx, unsubKey(tenant, customer, ch), []byte(at.UTC().Format(time.RFC3339)))
	if err != nil {
		return fmt.Errorf("unsubscribes: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	u.mu.Lock()
	defer u.mu.Unlock()
	for u.rev < rev {
		if !time.Now().Before(deadline) {
			// Stored, but this replica's mirror is behind: say so rather
			// than promise the next send here honours it.
			return fmt.Errorf("unsubscribes: stored, but not yet seen by this replica after 5s")
		}
		u.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		u.mu.Lock()
	}
	return nil
}
