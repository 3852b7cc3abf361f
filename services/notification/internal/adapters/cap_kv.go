package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// CapKV keeps each customer's recent marketing messages in
// NOTIFICATION_CAPS, key <tenant>.<customer>, changed by compare-and-set so
// that two messages sent at once cannot both take the last place.
type CapKV struct{ kv jetstream.KeyValue }

var _ app.CapStore = (*CapKV)(nil)

// NewCapKV opens the bucket.
func NewCapKV(ctx context.Context, js jetstream.JetStream) (*CapKV, error) {
	kv, err := js.KeyValue(ctx, topology.NotificationCaps)
	if err != nil {
		return nil, fmt.Errorf("caps: %w", err)
	}
	return &CapKV{kv: kv}, nil
}

func (c *CapKV) change(ctx context.Context, key string, f func([]notification.CapEntry) ([]notification.CapEntry, bool)) (bool, error) {
	for range 16 {
		var entries []notification.CapEntry
		var rev uint64
		e, err := c.kv.Get(ctx, key)
		switch {
		case errors.Is(kvErr(err), app.ErrNotFound):
		case err != nil:
			return false, err
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &entries); err != nil {
				return false, fmt.Errorf("caps: %s: %w", key, err)
			}
		}
		next, ok := f(entries)
		if !ok || len(next) == len(entries) && (len(next) == 0 || next[len(next)-1] == entries[len(entries)-1]) {
			return ok, nil // nothing to write
		}
		data, _ := json.Marshal(next)
		if rev == 0 {
			_, err = c.kv.Create(ctx, key, data)
		} else {
			_, err = c.kv.Update(ctx, key, data, rev)
		}
		if err = kvErr(err); errors.Is(err, app.ErrExists) || errors.Is(err, app.ErrConflict) {
			continue
		}
		return ok, err
	}
	return false, app.ErrConflict
}

// Reserve implements app.CapStore.
func (c *CapKV) Reserve(ctx context.Context, tenant, customer, id string, fc notification.FrequencyCap, now time.Time) (bool, error) {
	return c.change(ctx, tenant+"."+token(customer), func(e []notification.CapEntry) ([]notification.CapEntry, bool) {
		return fc.Reserve(e, id, now)
	})
}

// Release implements app.CapStore.
func (c *CapKV) Release(ctx context.Context, tenant, customer, id string) error {
	_, err := c.change(ctx, tenant+"."+token(customer), func(e []notification.CapEntry) ([]notification.CapEntry, bool) {
		return notification.Release(e, id), true
	})
	return err
}
