package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
)

// InvitationKVStore keeps invitations with their answers in the
// SURVEY_RESPONSES bucket under <tenant>.<invitation id>.
type InvitationKVStore struct{ kv jetstream.KeyValue }

// NewInvitationKVStore opens the bucket (topology.Ensure made it).
func NewInvitationKVStore(ctx context.Context, js jetstream.JetStream) (*InvitationKVStore, error) {
	kv, err := js.KeyValue(ctx, topology.SurveyResponsesBucket)
	if err != nil {
		return nil, fmt.Errorf("survey invitations: %w", err)
	}
	return &InvitationKVStore{kv: kv}, nil
}

var _ app.InvitationStore = (*InvitationKVStore)(nil)

// Get implements app.InvitationStore. The tenant is part of the key, so
// one tenant can never read another's invitation.
func (s *InvitationKVStore) Get(ctx context.Context, tenant, id string) (invitation.Invitation, uint64, error) {
	inv, rev, err := getJSON[invitation.Invitation](ctx, s.kv, tenant+"."+id)
	if err == nil && inv.Tenant != tenant {
		return invitation.Invitation{}, 0, app.ErrNotFound
	}
	return inv, rev, err
}

// Create implements app.InvitationStore.
func (s *InvitationKVStore) Create(ctx context.Context, inv invitation.Invitation) (uint64, error) {
	return putJSON(ctx, s.kv, inv.Tenant+"."+inv.ID, inv, 0)
}

// Update implements app.InvitationStore.
func (s *InvitationKVStore) Update(ctx context.Context, inv invitation.Invitation, rev uint64) (uint64, error) {
	if rev == 0 {
		return 0, app.ErrConflict
	}
	return putJSON(ctx, s.kv, inv.Tenant+"."+inv.ID, inv, rev)
}

// Watch hands every stored invitation to fn, then every change, until ctx
// ends; ready is called once when the stored ones have all been handed
// over. It feeds the KPI index: a view of the bucket that every replica
// keeps for itself.
func (s *InvitationKVStore) Watch(ctx context.Context, fn func(invitation.Invitation), ready func()) error {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				// A stale index would answer KPIs wrongly without a sign:
				// stop, and let the orchestrator restart the service.
				return errors.New("survey invitations: the bucket watch ended")
			}
			if e == nil {
				ready()
				continue
			}
			var inv invitation.Invitation
			if json.Unmarshal(e.Value(), &inv) == nil {
				fn(inv)
			}
		}
	}
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are stored
	}
	return data
}
