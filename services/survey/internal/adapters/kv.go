// Package adapters connects the survey service's use cases to JetStream
// key-value buckets, the journey stream, the notification work queue and
// the profile service.
package adapters

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/services/survey/internal/app"
)

// kvErr maps JetStream's key-value errors to the app's.
func kvErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return app.ErrNotFound
	case errors.Is(err, jetstream.ErrKeyExists):
		return app.ErrConflict
	}
	return err
}

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, key)
	if err != nil {
		return v, 0, kvErr(err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, err
	}
	return v, e.Revision(), nil
}

// putJSON creates the key when rev is 0 (ErrExists when taken), else
// updates it at rev (ErrConflict when it moved on).
func putJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		r, err := kv.Create(ctx, key, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, app.ErrExists
		}
		return r, err
	}
	r, err := kv.Update(ctx, key, data, rev)
	return r, kvErr(err)
}
