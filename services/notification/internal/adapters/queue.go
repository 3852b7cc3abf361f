package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// Queue puts requests on NOTIFICATION_REQUESTS the way the trigger and
// survey services do: subject cx.<tenant>.notification.send, Nats-Msg-Id
// <tenant>:<notification id>.
type Queue struct {
	js      jetstream.JetStream
	timeout time.Duration
}

var _ app.Queue = (*Queue)(nil)

// NewQueue publishes through js.
func NewQueue(js jetstream.JetStream, timeout time.Duration) (*Queue, error) {
	if js == nil || timeout <= 0 {
		return nil, errors.New("queue: JetStream and a positive timeout are required")
	}
	return &Queue{js: js, timeout: timeout}, nil
}

// Enqueue implements app.Queue.
func (q *Queue) Enqueue(ctx context.Context, r *notification.Request) (bool, error) {
	pr, err := RequestToProto(r)
	if err != nil {
		return false, err
	}
	data, err := proto.Marshal(pr)
	if err != nil {
		return false, err
	}
	subject := "cx." + r.Tenant + ".notification.send"
	msgID := r.Tenant + ":" + r.ID
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	ctx, span := natstrace.StartPublish(ctx, subject, msgID, msg.Header)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(topology.NotificationRequests))
	if err != nil {
		return false, fmt.Errorf("queue: %w", err)
	}
	return ack.Duplicate, nil
}
