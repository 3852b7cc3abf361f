package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// TemplateKVStore keeps templates in NOTIFICATION_TEMPLATES: the current
// version under <tenant>.<id>, every version also under <tenant>.<id>.v<N>
// (immutable, so notifications can render an older one).
type TemplateKVStore struct{ kv jetstream.KeyValue }

var _ app.TemplateStore = (*TemplateKVStore)(nil)

// NewTemplateKVStore opens the bucket.
func NewTemplateKVStore(ctx context.Context, js jetstream.JetStream) (*TemplateKVStore, error) {
	kv, err := js.KeyValue(ctx, topology.NotificationTemplates)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return &TemplateKVStore{kv: kv}, nil
}

func (s *TemplateKVStore) get(ctx context.Context, key string) (*template.Template, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, kvErr(err)
	}
	var t template.Template
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, 0, fmt.Errorf("templates: %s: %w", key, err)
	}
	return &t, e.Revision(), nil
}

// Get implements app.TemplateStore.
func (s *TemplateKVStore) Get(ctx context.Context, tenant, id string, version int) (*template.Template, error) {
	key := tenant + "." + id
	if version > 0 {
		key += ".v" + strconv.Itoa(version)
	}
	t, _, err := s.get(ctx, key)
	return t, err
}

// Put implements app.TemplateStore. The version copy is written first: if
// the current pointer's compare-and-set then loses, the copy is an orphan
// the next successful writer of that version overwrites.
func (s *TemplateKVStore) Put(ctx context.Context, tenant string, t *template.Template, expected int) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	key := tenant + "." + t.ID
	var rev uint64
	if expected > 0 {
		cur, r, err := s.get(ctx, key)
		if err != nil {
			return err
		}
		if cur.Version != expected {
			return app.ErrConflict
		}
		rev = r
	} else if _, err := s.kv.Get(ctx, key); err == nil {
		return app.ErrExists
	}
	if _, err := s.kv.Put(ctx, key+".v"+strconv.Itoa(t.Version), data); err != nil {
		return err
	}
	if expected > 0 {
		_, err = s.kv.Update(ctx, key, data, rev)
	} else {
		_, err = s.kv.Create(ctx, key, data)
	}
	err = kvErr(err)
	if expected > 0 && errors.Is(err, app.ErrExists) {
		err = app.ErrConflict
	}
	return err
}

// List implements app.TemplateStore.
func (s *TemplateKVStore) List(ctx context.Context, tenant string) ([]*template.Template, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, tenant+".*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []*template.Template
	for key := range lister.Keys() {
		t, _, err := s.get(ctx, key)
		if errors.Is(err, app.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
