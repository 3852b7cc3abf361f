package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// LedgerKV is the send ledger in the NOTIFICATION_LEDGER bucket: key
// n.<tenant>.<notification id>, its revision the compare-and-set token; and
// m.<provider>.<message id> → tenant and notification id.
type LedgerKV struct{ kv jetstream.KeyValue }

var _ app.Ledger = (*LedgerKV)(nil)

// NewLedgerKV opens the bucket.
func NewLedgerKV(ctx context.Context, js jetstream.JetStream) (*LedgerKV, error) {
	kv, err := js.KeyValue(ctx, topology.NotificationLedger)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &LedgerKV{kv: kv}, nil
}

func ledgerKey(tenant, id string) string { return "n." + tenant + "." + token(id) }

// Get implements app.Ledger.
func (l *LedgerKV) Get(ctx context.Context, tenant, id string) (*notification.Notification, uint64, error) {
	e, err := l.kv.Get(ctx, ledgerKey(tenant, id))
	if err != nil {
		return nil, 0, kvErr(err)
	}
	var n notification.Notification
	if err := json.Unmarshal(e.Value(), &n); err != nil {
		return nil, 0, fmt.Errorf("ledger: record %s: %w", e.Key(), err)
	}
	return &n, e.Revision(), nil
}

// Create implements app.Ledger.
func (l *LedgerKV) Create(ctx context.Context, n *notification.Notification) (uint64, error) {
	data, err := json.Marshal(n)
	if err != nil {
		return 0, err
	}
	rev, err := l.kv.Create(ctx, ledgerKey(n.Request.Tenant, n.Request.ID), data)
	return rev, kvErr(err)
}

// Update implements app.Ledger.
func (l *LedgerKV) Update(ctx context.Context, n *notification.Notification, rev uint64) (uint64, error) {
	data, err := json.Marshal(n)
	if err != nil {
		return 0, err
	}
	nrev, err := l.kv.Update(ctx, ledgerKey(n.Request.Tenant, n.Request.ID), data, rev)
	if err = kvErr(err); errors.Is(err, app.ErrExists) {
		err = app.ErrConflict
	}
	return nrev, err
}

// IndexProviderMessage implements app.Ledger.
func (l *LedgerKV) IndexProviderMessage(ctx context.Context, provider, messageID, tenant, id string) error {
	_, err := l.kv.Put(ctx, "m."+token(provider)+"."+token(messageID), []byte(tenant+"\n"+id))
	return err
}

// ProviderMessage implements app.Ledger.
func (l *LedgerKV) ProviderMessage(ctx context.Context, provider, messageID string) (string, string, error) {
	e, err := l.kv.Get(ctx, "m."+token(provider)+"."+token(messageID))
	if err != nil {
		return "", "", kvErr(err)
	}
	tenant, id, ok := strings.Cut(string(e.Value()), "\n")
	if !ok {
		return "", "", fmt.Errorf("ledger: bad message index %s", e.Key())
	}
	return tenant, id, nil
}
