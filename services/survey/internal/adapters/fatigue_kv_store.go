package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
)

// FatigueKVStore keeps when each customer was last invited in the
// SURVEY_FATIGUE bucket, under <tenant>.<hash of the customer key>: the
// key holds no email address or phone number.
type FatigueKVStore struct{ kv jetstream.KeyValue }

// NewFatigueKVStore opens the bucket (topology.Ensure made it).
func NewFatigueKVStore(ctx context.Context, js jetstream.JetStream) (*FatigueKVStore, error) {
	kv, err := js.KeyValue(ctx, topology.SurveyFatigueBucket)
	if err != nil {
		return nil, fmt.Errorf("survey fatigue: %w", err)
	}
	return &FatigueKVStore{kv: kv}, nil
}

var _ app.FatigueStore = (*FatigueKVStore)(nil)

func fatigueKey(tenant, customer string) string {
	h := sha256.Sum256([]byte(customer))
	return tenant + "." + hex.EncodeToString(h[:16])
}

// Get implements app.FatigueStore.
func (s *FatigueKVStore) Get(ctx context.Context, tenant, customerKey string) (app.FatigueClaim, uint64, error) {
	c, rev, err := getJSON[app.FatigueClaim](ctx, s.kv, fatigueKey(tenant, customerKey))
	if errors.Is(err, app.ErrNotFound) {
		return app.FatigueClaim{}, 0, nil
	}
	return c, rev, err
}

// Release implements app.FatigueStore.
func (s *FatigueKVStore) Release(ctx context.Context, tenant, customerKey string, rev uint64) error {
	err := s.kv.Delete(ctx, fatigueKey(tenant, customerKey), jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// Put implements app.FatigueStore.
func (s *FatigueKVStore) Put(ctx context.Context, tenant, customerKey string, c app.FatigueClaim, rev uint64) error {
	_, err := putJSON(ctx, s.kv, fatigueKey(tenant, customerKey), c, rev)
	return err
}
