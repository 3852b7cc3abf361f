package adapters

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// TaskEvents announces completed tasks as task.completed journey events,
// with an id derived from the task, so announcing one twice is one event.
type TaskEvents struct{ pub *journeystream.Publisher }

// NewTaskEvents publishes through pub.
func NewTaskEvents(pub *journeystream.Publisher) (*TaskEvents, error) {
	if pub == nil {
		return nil, errors.New("task events: a publisher is required")
	}
	return &TaskEvents{pub: pub}, nil
}

var _ app.TaskEvents = (*TaskEvents)(nil)

// TaskCompleted publishes task.completed for t.
func (e *TaskEvents) TaskCompleted(ctx context.Context, t *task.Task) error {
	ev := &journeyv1.JourneyEvent{
		Id: "task:" + t.ID + ":completed", Tenant: t.Tenant, Type: "task.completed", Source: "trigger",
		Customer:   &journeyv1.Customer{CustomerId: t.Customer.CustomerID, Email: t.Customer.Email, Phone: t.Customer.Phone, AnonymousId: t.Customer.AnonymousID},
		OccurredAt: timestamppb.New(t.CompletedAt), ReceivedAt: timestamppb.Now(),
		Payload: &journeyv1.JourneyEvent_TaskCompleted{TaskCompleted: &journeyv1.TaskCompleted{TaskId: t.ID, Assignee: t.Assignee, Outcome: t.Outcome}},
	}
	return e.pub.Publish(ctx, []*journeyv1.JourneyEvent{ev})[0].Err
}
