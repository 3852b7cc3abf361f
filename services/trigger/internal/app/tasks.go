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
	outbox task.Outbox
	events TaskEvents
	now    func() time.Time
}

// NewTasks checks its dependencies.
func NewTasks(repo task.Repository, outbox task.Outbox, events TaskEvents, now func() time.Time) (*Tasks, error) {
	if repo == nil || outbox == nil || events == nil || now == nil {
		return nil, errors.New("app: task repository, outbox, task events and clock are required")
	}
	return &Tasks{repo: repo, outbox: outbox, events: events, now: now}, nil
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
// The announcement is held in the outbox before the task is stored done,
// and released once published: a failed publish is ErrNotAnnounced for the
// caller and the task stays done, but calling again publishes it, and
// AnnounceOutstanding publishes whatever a failure or a crash left held.
// The event's id is derived from the task, so publishing twice stores it
// once.
func (u *Tasks) Complete(ctx context.Context, tenant, id, assignee, outcome string) (*task.Task, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, &task.FieldError{Field: "task_id", Reason: "required"}
	}
	outstanding, err := u.outbox.Held(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !outstanding {
		if err := u.outbox.Hold(ctx, tenant, id, u.now()); err != nil {
			return nil, err
		}
	}
	var done *task.Task
	already := false
	err = u.update(ctx, tenant, id, func(t *task.Task) (bool, error) {
		done = t
		err := t.Complete(assignee, outcome, u.now())
		if errors.Is(err, task.ErrAlreadyDone) {
			already = true
			return false, nil
		}
		return err == nil, err
	})
	switch {
	case err != nil:
		if !outstanding {
			// Nothing was completed: the entry this call held has nothing
			// to announce (if this release fails, AnnounceOutstanding
			// drops it).
			_ = u.outbox.Release(ctx, tenant, id)
		}
		return nil, err
	case already && !outstanding:
		// Done and announced before: publish nothing again.
		return done, u.outbox.Release(ctx, tenant, id)
	}
	// Done now, or done before with its announcement still outstanding.
	return done, u.announce(ctx, done)
}

// announce publishes a done task's task.completed event and releases its
// outbox entry.
func (u *Tasks) announce(ctx context.Context, t *task.Task) error {
	if err := u.events.TaskCompleted(ctx, t); err != nil {
		return fmt.Errorf("%w: task %s: %w", ErrNotAnnounced, t.ID, err)
	}
	return u.outbox.Release(ctx, t.Tenant, t.ID)
}

// AnnounceOutstanding publishes the task.completed events the outbox still
// holds — left by a failed publish or a crash between storing a task done
// and announcing it — and drops entries of tasks that were never completed
// once they are older than grace (a completion still in flight holds its
// entry for a moment before it stores the task). It returns how many
// events it published.
func (u *Tasks) AnnounceOutstanding(ctx context.Context, grace time.Duration) (int, error) {
	held, err := u.outbox.Outstanding(ctx)
	if err != nil {
		return 0, err
	}
	published := 0
	var errs []error
	for _, p := range held {
		t, err := u.repo.Get(ctx, p.Tenant, p.ID)
		switch {
		case errors.Is(err, task.ErrNotFound):
			errs = append(errs, u.outbox.Release(ctx, p.Tenant, p.ID))
		case err != nil:
			errs = append(errs, err)
		case t.State == task.Done:
			if err := u.announce(ctx, t); err != nil {
				errs = append(errs, err)
				continue
			}
			published++
		case u.now().Sub(p.At) > grace:
			errs = append(errs, u.outbox.Release(ctx, p.Tenant, p.ID))
		}
	}
	return published, errors.Join(errs...)
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
