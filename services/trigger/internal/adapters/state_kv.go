package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// KVState keeps the trigger's firing records, firing history per customer
// timer stops and the latest start of each wait in the TRIGGER_STATE bucket:
// <tenant>.f.<firing hash> (the decision and whether it was carried out),
// <tenant>.l.<timer key hash> (the latest start of a wait), <tenant>.h.<customer>
// (the customer's firings that acted, by rule, the last 50 of each; the
// caps count them), <tenant>.x.<timer key hash> (stopped at).
type KVState struct{ kv jetstream.KeyValue }

// NewKVState opens the bucket.
func NewKVState(ctx context.Context, js jetstream.JetStream) (*KVState, error) {
	kv, err := js.KeyValue(ctx, topology.TriggerState)
	if err != nil {
		return nil, fmt.Errorf("trigger state: %w", err)
	}
	return &KVState{kv: kv}, nil
}

var _ app.State = (*KVState)(nil)

func hashed(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func firingKey(tenant, id string) string { return tenant + ".f." + hashed(id) }

// Decided returns a firing's recorded decision.
func (s *KVState) Decided(ctx context.Context, tenant, firingID string) (app.Decision, bool, error) {
	e, err := s.kv.Get(ctx, firingKey(tenant, firingID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return app.Decision{}, false, nil
	}
	if err != nil {
		return app.Decision{}, false, fmt.Errorf("trigger state: %w", err)
	}
	var d app.Decision
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return app.Decision{}, false, fmt.Errorf("trigger state: firing record: %w", err)
	}
	return d, true, nil
}

// Decide records a decision once: kv.Create fails when one exists.
func (s *KVState) Decide(ctx context.Context, tenant, firingID string, d app.Decision) (bool, error) {
	data, _ := json.Marshal(d)
	_, err := s.kv.Create(ctx, firingKey(tenant, firingID), data)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, fmt.Errorf("trigger state: decide: %w", err)
}

// Finish marks a firing done.
func (s *KVState) Finish(ctx context.Context, tenant, firingID string, d app.Decision) error {
	data, _ := json.Marshal(d)
	if _, err := s.kv.Put(ctx, firingKey(tenant, firingID), data); err != nil {
		return fmt.Errorf("trigger state: finish: %w", err)
	}
	return nil
}

func historyKey(tenant, customerKey string) string { return tenant + ".h." + customerKey }

// firingHistory is a customer's recent firings that acted, by firing id:
// the rule and when. The caps count them.
type firingHistory map[string]historyEntry

type historyEntry struct {
	Rule string    `json:"r"`
	At   time.Time `json:"at"`
}

func (h firingHistory) times(rule string) []time.Time {
	var out []time.Time
	for _, e := range h {
		if rule == "" || e.Rule == rule {
			out = append(out, e.At)
		}
	}
	return out
}

// trim keeps the latest historyKept firings of each rule: more than any cap
// counts.
func (h firingHistory) trim(rule string) {
	for {
		n, oldest := 0, ""
		for id, e := range h {
			if e.Rule != rule {
				continue
			}
			n++
			if oldest == "" || e.At.Before(h[oldest].At) {
				oldest = id
			}
		}
		if n <= historyKept {
			return
		}
		delete(h, oldest)
	}
}

func (s *KVState) history(ctx context.Context, key string) (firingHistory, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return firingHistory{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("trigger state: %w", err)
	}
	h := firingHistory{}
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return nil, 0, fmt.Errorf("trigger state: %s: %w", key, err)
	}
	return h, e.Revision(), nil
}

// Reserve records a firing in the customer's history when both limits
// allow it. The check and the write are one compare-and-set on the
// history's key: when another firing wrote in between, the update fails
// and the check runs again on what that one wrote.
func (s *KVState) Reserve(ctx context.Context, tenant, customerKey, ruleID, firingID string, at time.Time, rule, global app.Limit) (bool, string, error) {
	key := historyKey(tenant, customerKey)
	for attempt := 0; ; attempt++ {
		h, rev, err := s.history(ctx, key)
		if err != nil {
			return false, "", err
		}
		if _, done := h[firingID]; done {
			return true, "", nil
		}
		if !rule.Allows(h.times(ruleID)) {
			return false, "rule", nil
		}
		if !global.Allows(h.times("")) {
			return false, "global", nil
		}
		h[firingID] = historyEntry{Rule: ruleID, At: at}
		h.trim(ruleID)
		if err = s.write(ctx, key, h, rev); err == nil {
			return true, "", nil
		}
		if attempt == casAttempts {
			return false, "", fmt.Errorf("trigger state: reserve: %w", err)
		}
	}
}

// Release removes a firing from the customer's history (compare-and-set,
// like Reserve).
func (s *KVState) Release(ctx context.Context, tenant, customerKey, firingID string) error {
	key := historyKey(tenant, customerKey)
	for attempt := 0; ; attempt++ {
		h, rev, err := s.history(ctx, key)
		if err != nil {
			return err
		}
		if _, held := h[firingID]; !held {
			return nil
		}
		delete(h, firingID)
		if err = s.write(ctx, key, h, rev); err == nil {
			return nil
		}
		if attempt == casAttempts {
			return fmt.Errorf("trigger state: release: %w", err)
		}
	}
}

// historyKept is how many firings of each rule a history remembers: more
// than any cap counts.
const historyKept = 50

// casAttempts bounds how often a compare-and-set is retried after losing a
// race; each loss means another firing of the same customer wrote.
const casAttempts = 16

func (s *KVState) write(ctx context.Context, key string, h firingHistory, rev uint64) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, data)
	} else {
		_, err = s.kv.Update(ctx, key, data, rev)
	}
	return err
}

func latestKey(tenant, key string) string { return tenant + ".l." + hashed(key) }

// Latest returns the latest recorded start of a wait.
func (s *KVState) Latest(ctx context.Context, tenant, key string) (time.Time, error) {
	t, _, err := s.latest(ctx, tenant, key)
	return t, err
}

func (s *KVState) latest(ctx context.Context, tenant, key string) (time.Time, uint64, error) {
	e, err := s.kv.Get(ctx, latestKey(tenant, key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("trigger state: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	return t, e.Revision(), err
}

// Advance records cause as the latest start of a wait unless a later one
// is recorded (compare-and-set, so it only ever moves forward).
func (s *KVState) Advance(ctx context.Context, tenant, key string, cause time.Time) (bool, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.latest(ctx, tenant, key)
		if err != nil {
			return false, err
		}
		if cur.After(cause) {
			return false, nil
		}
		data := []byte(cause.UTC().Format(time.RFC3339Nano))
		if rev == 0 {
			_, err = s.kv.Create(ctx, latestKey(tenant, key), data)
		} else {
			_, err = s.kv.Update(ctx, latestKey(tenant, key), data, rev)
		}
		if err == nil {
			return true, nil
		}
		if attempt == 5 {
			return false, fmt.Errorf("trigger state: advance: %w", err)
		}
	}
}

func stopKey(tenant, key string) string { return tenant + ".x." + hashed(key) }

// Stop marks a timer key stopped at (the latest stop wins).
func (s *KVState) Stop(ctx context.Context, tenant, key string, at time.Time) error {
	cur, err := s.Stopped(ctx, tenant, key)
	if err != nil {
		return err
	}
	if !cur.IsZero() && cur.After(at) {
		return nil
	}
	if _, err := s.kv.Put(ctx, stopKey(tenant, key), []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("trigger state: stop: %w", err)
	}
	return nil
}

// Stopped returns when key was stopped, or zero.
func (s *KVState) Stopped(ctx context.Context, tenant, key string) (time.Time, error) {
	e, err := s.kv.Get(ctx, stopKey(tenant, key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("trigger state: %w", err)
	}
	return time.Parse(time.RFC3339Nano, string(e.Value()))
}

func buyerPrefix(tenant, productID string) string { return tenant + ".b." + hashed(productID) + "." }

// AddBuyer records a customer who bought a product, under
// <tenant>.b.<product hash>.<customer key>.
func (s *KVState) AddBuyer(ctx context.Context, tenant, productID string, c app.Customer) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, buyerPrefix(tenant, productID)+c.Key(), data); err != nil {
		return fmt.Errorf("trigger state: buyer: %w", err)
	}
	return nil
}

// Buyers lists the customers who bought a product.
func (s *KVState) Buyers(ctx context.Context, tenant, productID string) ([]app.Customer, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, buyerPrefix(tenant, productID)+"*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trigger state: buyers: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []app.Customer
	for key := range lister.Keys() {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("trigger state: %w", err)
		}
		var c app.Customer
		if json.Unmarshal(e.Value(), &c) == nil {
			out = append(out, c)
		}
	}
	return out, nil
}
