package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// ErrNotAnnounced means a task was stored done but its task.completed
// event could not be published.
var ErrNotAnnounced = errors.New("task is done, but its task.completed event could not be published")

// TaskEvents announces what happens to tasks on the customer's journey.
type TaskEvents interface {
	// TaskCompleted publishes the task.completed journey event of t, a task
	// just done. Its event id is derived from the task id, so a publish
	// retried after an unknown outcome is stored once.
	TaskCompleted(ctx context.Context, t *task.Task) error
}

// Tasks are the use cases agents drive: list follow-up tasks, claim one,
// complete it.
type Tasks struct {
	repo   task.Repository
	events TaskEvents
	now    func() time.Time
}

// NewTasks checks its dependencies.
func NewTasks(repo task.Repository, events TaskEvents, now func() time.Time) (*Tasks, error) {
	if repo == nil || events == nil || now == nil {
		return nil, errors.New("app: task repository, task events and clock are required")
	}
	return &Tasks{repo: repo, events: events, now: now}, nil
}

// List returns a page of the tenant's tasks matching f, most urgent first,
// then earliest due, and the token of the next page ("" on the last).
func (u *Tasks) List(ctx context.Context, tenant string, f task.Filter, pageSize int, pageToken string) ([]task.Task, string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, "", err
	}
	return u.repo.List(ctx, tenant, f, pageSize, pageToken)
}

// Claim gives an open task to assignee. Claiming a task the same agent
// already holds returns it unchanged; one held by another agent is
// task.ErrHeldByOther, a done one task.ErrAlreadyDone.
func (u *Tasks) Claim(ctx context.Context, tenant, id, assignee string) (*task.Task, error) {
	var claimed *task.Task
	err := u.update(ctx, tenant, id, func(t *task.Task) (bool, error) {
		held := t.State == task.Claimed
		if err := t.Claim(assignee, u.now()); err != nil {
			return false, err
		}
		claimed = t
		return !held, nil // held already, by this agent: nothing to store
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// Complete marks the task done by assignee with the agent's outcome and
// publishes task.completed. Completing a done task returns it unchanged
// and publishes nothing, so the event is announced once. A task claimed by
// another agent is task.ErrHeldByOther.
//
// The task is stored done before the event is published: a failed publish
// is ErrNotAnnounced for the caller, but the task stays done, and calling
// again does not publish (the event is lost). An outbox in the task record
// would close that gap.
func (u *Tasks) Complete(ctx context.Context, tenant, id, assignee, outcome string) (*task.Task, error) {
	var done *task.Task
	already := false
	err := u.update(ctx, tenant, id, func(t *task.Task) (bool, error) {
		done = t
		err := t.Complete(assignee, outcome, u.now())
		if errors.Is(err, task.ErrAlreadyDone) {
			already = true
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	if already {
		return done, nil
	}
	if err := u.events.TaskCompleted(ctx, done); err != nil {
		return done, fmt.Errorf("%w: task %s: %w", ErrNotAnnounced, done.ID, err)
	}
	return done, nil
}

// update reads a task, applies change and stores the result when change
// reports one, retrying once from a fresh read when the task changed
// concurrently (task.ErrConflict).
func (u *Tasks) update(ctx context.Context, tenant, id string, change func(t *task.Task) (bool, error)) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	if id == "" {
		return &task.FieldError{Field: "task_id", Reason: "required"}
	}
	for attempt := 1; ; attempt++ {
		t, err := u.repo.Get(ctx, tenant, id)
		if err != nil {
			return err
		}
		changed, err := change(t)
		if err != nil || !changed {
			return err
		}
		err = u.repo.Update(ctx, t)
		if !errors.Is(err, task.ErrConflict) || attempt == 2 {
			return err
		}
	}
}
