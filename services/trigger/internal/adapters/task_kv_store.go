package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// TasksBucketName is the JetStream key-value bucket of follow-up tasks,
// under keys <tenant>.<task id> holding the task as JSON.
const TasksBucketName = "TASKS"

// TasksBucket declares the TASKS bucket for the topology. Only the latest
// value of a task is kept: its history is told by the task.created and
// task.completed journey events.
func TasksBucket(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      TasksBucketName,
		Description: "Bazgasht follow-up tasks for agents, by tenant",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	}
}

// TaskKVStore keeps tasks in the TASKS bucket. Creation is conditional on
// the key being absent and every update on the revision it replaces, so a
// retried firing or a second replica is detected instead of overwriting.
//
// List reads every task of the tenant, done ones included, to filter and
// order them: its cost grows with the tenant's tasks, not with the page.
// That is fine for the thousands a shop's agents work through; beyond
// that, done tasks should be moved out or an index kept per state.
type TaskKVStore struct {
	kv jetstream.KeyValue
}

var _ task.Repository = (*TaskKVStore)(nil)

// NewTaskKVStore opens the store over the TASKS bucket, which the topology
// creates.
func NewTaskKVStore(ctx context.Context, js jetstream.JetStream) (*TaskKVStore, error) {
	if js == nil {
		return nil, errors.New("task store: no JetStream context")
	}
	kv, err := js.KeyValue(ctx, TasksBucketName)
	if err != nil {
		return nil, fmt.Errorf("task store: bucket %s: %w", TasksBucketName, err)
	}
	return &TaskKVStore{kv: kv}, nil
}

// Create stores t unless the tenant already has a task with its id.
func (s *TaskKVStore) Create(ctx context.Context, t *task.Task) (bool, error) {
	key, err := taskKey(t.Tenant, t.ID)
	if err != nil {
		return false, err
	}
	data, err := json.Marshal(t)
	if err != nil {
		return false, fmt.Errorf("task store: %w", err)
	}
	rev, err := s.kv.Create(ctx, key, data)
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("task store: create %s: %w", key, err)
	}
	t.Revision = rev
	return true, nil
}

// Get returns the tenant's task, or task.ErrNotFound.
func (s *TaskKVStore) Get(ctx context.Context, tenant, id string) (*task.Task, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if !keyToken(id) {
		return nil, task.ErrNotFound // no task could have this id
	}
	e, err := s.kv.Get(ctx, tenant+"."+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, task.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("task store: get %s.%s: %w", tenant, id, err)
	}
	return decodeTask(e)
}

// Update stores t if the stored task is still at t.Revision.
func (s *TaskKVStore) Update(ctx context.Context, t *task.Task) error {
	key, err := taskKey(t.Tenant, t.ID)
	if err != nil {
		return err
	}
	if t.Revision != 0 {
		data, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("task store: %w", err)
		}
		rev, err := s.kv.Update(ctx, key, data, t.Revision)
		if err == nil {
			t.Revision = rev
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("task store: update %s: %w", key, err)
		}
	}
	// Revision 0 would create the key: never write it, but tell a task
	// that is not stored from one that changed.
	if _, err := s.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return task.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("task store: update %s: %w", key, err)
	}
	return fmt.Errorf("task store: update %s at revision %d: %w", key, t.Revision, task.ErrConflict)
}

// List reads all the tenant's tasks in one watch of <tenant>.* and returns
// the page task.Page picks from them.
func (s *TaskKVStore) List(ctx context.Context, tenant string, f task.Filter, pageSize int, pageToken string) ([]task.Task, string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, "", err
	}
	w, err := s.kv.Watch(ctx, tenant+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, "", fmt.Errorf("task store: list %s: %w", tenant, err)
	}
	defer func() { _ = w.Stop() }()
	var all []task.Task
	for {
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("task store: list %s: %w", tenant, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, "", fmt.Errorf("task store: list %s: watch ended early", tenant)
			}
			if e == nil { // every current value delivered
				return task.Page(all, f, pageSize, pageToken)
			}
			t, err := decodeTask(e)
			if err != nil {
				return nil, "", err
			}
			all = append(all, *t)
		}
	}
}

var _ task.Outbox = (*TaskKVStore)(nil)

// outboxPrefix starts the keys of held announcements,
// _outbox.<tenant>.<task id>: no tenant starts with '_', so a tenant's
// List never reads them.
const outboxPrefix = "_outbox."

func outboxKey(tenant, id string) (string, error) {
	key, err := taskKey(tenant, id)
	return outboxPrefix + key, err
}

// Hold records that a task's task.completed event is about to be published.
func (s *TaskKVStore) Hold(ctx context.Context, tenant, id string, at time.Time) error {
	key, err := outboxKey(tenant, id)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, key, []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("task store: hold %s: %w", key, err)
	}
	return nil
}

// Held reports whether a task's announcement is outstanding.
func (s *TaskKVStore) Held(ctx context.Context, tenant, id string) (bool, error) {
	key, err := outboxKey(tenant, id)
	if err != nil {
		return false, err
	}
	_, err = s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("task store: outbox %s: %w", key, err)
	}
	return true, nil
}

// Release forgets a task's announcement.
func (s *TaskKVStore) Release(ctx context.Context, tenant, id string) error {
	key, err := outboxKey(tenant, id)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("task store: release %s: %w", key, err)
	}
	return nil
}

// Outstanding lists the held announcements of every tenant.
func (s *TaskKVStore) Outstanding(ctx context.Context) ([]task.Pending, error) {
	w, err := s.kv.Watch(ctx, outboxPrefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("task store: outbox: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []task.Pending
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("task store: outbox: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("task store: outbox: watch ended early")
			}
			if e == nil {
				return out, nil
			}
			tenant, id, ok := strings.Cut(strings.TrimPrefix(e.Key(), outboxPrefix), ".")
			at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
			if !ok || err != nil {
				continue // not an entry this store wrote
			}
			out = append(out, task.Pending{Tenant: tenant, ID: id, At: at})
		}
	}
}

func decodeTask(e jetstream.KeyValueEntry) (*task.Task, error) {
	t := &task.Task{}
	if err := json.Unmarshal(e.Value(), t); err != nil {
		return nil, fmt.Errorf("task store: %s is not a task: %w", e.Key(), err)
	}
	t.Revision = e.Revision()
	return t, nil
}

func taskKey(tenant, id string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	if !keyToken(id) {
		return "", &task.FieldError{Field: "task_id", Reason: "must be letters, digits, '-' or '_'"}
	}
	return tenant + "." + id, nil
}

// checkTenant keeps a tenant to one key token: "a.b" or "*" would reach
// into other tenants' keys.
func checkTenant(tenant string) error {
	if !keyToken(tenant) {
		return &task.FieldError{Field: "tenant", Reason: "must be letters, digits, '-' or '_'"}
	}
	return nil
}

func keyToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
