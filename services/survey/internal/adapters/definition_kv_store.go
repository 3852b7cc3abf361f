package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// DefinitionKVStore keeps definitions in the SURVEYS bucket: every version
// under <tenant>.v.<survey>.<version>, the current one under
// <tenant>.cur.<survey>. The version key is written first, so the current
// one never names a version that is not stored.
type DefinitionKVStore struct{ kv jetstream.KeyValue }

// NewDefinitionKVStore opens the bucket (topology.Ensure made it).
func NewDefinitionKVStore(ctx context.Context, js jetstream.JetStream) (*DefinitionKVStore, error) {
	kv, err := js.KeyValue(ctx, topology.SurveysBucket)
	if err != nil {
		return nil, fmt.Errorf("survey definitions: %w", err)
	}
	return &DefinitionKVStore{kv: kv}, nil
}

var _ app.DefinitionStore = (*DefinitionKVStore)(nil)

// Current implements app.DefinitionStore.
func (s *DefinitionKVStore) Current(ctx context.Context, tenant, id string) (survey.Definition, uint64, error) {
	return getJSON[survey.Definition](ctx, s.kv, tenant+".cur."+id)
}

// Version implements app.DefinitionStore.
func (s *DefinitionKVStore) Version(ctx context.Context, tenant, id string, version int) (survey.Definition, error) {
	d, _, err := getJSON[survey.Definition](ctx, s.kv, fmt.Sprintf("%s.v.%s.%d", tenant, id, version))
	return d, err
}

// Save implements app.DefinitionStore.
func (s *DefinitionKVStore) Save(ctx context.Context, tenant string, d survey.Definition, rev uint64) error {
	// A version key left by a save that lost its race is overwritten by
	// the winner's next attempt: only the current key decides.
	if _, err := s.kv.Put(ctx, fmt.Sprintf("%s.v.%s.%d", tenant, d.ID, d.Version), mustJSON(d)); err != nil {
		return err
	}
	_, err := putJSON(ctx, s.kv, tenant+".cur."+d.ID, d, rev)
	return err
}

// List implements app.DefinitionStore.
func (s *DefinitionKVStore) List(ctx context.Context, tenant string) ([]survey.Definition, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, tenant+".cur.*")
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]survey.Definition, 0, len(keys))
	for _, k := range keys {
		d, _, err := getJSON[survey.Definition](ctx, s.kv, k)
		if errors.Is(err, app.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(k, tenant+".cur.") {
			out = append(out, d)
		}
	}
	return out, nil
}
