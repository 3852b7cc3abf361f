// Package adapters holds what the trigger service talks out to: JetStream
// message schedules for its timers, key-value buckets for its state, rules
// and tasks, the profile service, the work queues of the survey and
// notification services, and webhooks.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// TimerScheduler keeps timers as JetStream message schedules: the schedule
// on cx.trigger.timer.<tenant>.<key> fires a copy of itself onto
// cx.trigger.fire.<tenant>.<key> at its moment. The schedule lives in the
// stream, so it survives restarts of the service and of NATS; publishing
// again on the same subject replaces it; purging the subject cancels it.
type TimerScheduler struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// NewTimerScheduler opens the timers stream.
func NewTimerScheduler(ctx context.Context, js jetstream.JetStream) (*TimerScheduler, error) {
	s, err := js.Stream(ctx, topology.TriggerTimers)
	if err != nil {
		return nil, fmt.Errorf("timers: %w", err)
	}
	return &TimerScheduler{js: js, stream: s}, nil
}

var _ app.Scheduler = (*TimerScheduler)(nil)

// TimerSubject is where the schedule for key lives.
func TimerSubject(tenant, key string) string { return "cx.trigger.timer." + tenant + "." + key }

// FireSubject is where the timer for key fires.
func FireSubject(tenant, key string) string { return "cx.trigger.fire." + tenant + "." + key }

// Schedule sets t. Schedules have whole-second resolution and fire when
// their second begins, so t is scheduled for the start of the second it
// falls in and arrives up to a second early: the consumer holds it until
// t.At (ports.ConsumeTimers), so it fires neither early nor a second late.
// A timer due within the current second, or overdue (a rule that fires
// overdue timers), goes straight to the fire subject.
func (s *TimerScheduler) Schedule(ctx context.Context, t app.Timer) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if at := t.At.Truncate(time.Second); at.After(time.Now()) {
		msg := &nats.Msg{Subject: TimerSubject(t.Tenant, t.Key), Data: data, Header: nats.Header{}}
		_, err = s.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(FireSubject(t.Tenant, t.Key)))
	} else {
		// A wait started again replaces this one in the trigger's state,
		// which is checked when it fires, as a replaced schedule would be.
		_, err = s.js.PublishMsg(ctx, &nats.Msg{Subject: FireSubject(t.Tenant, t.Key), Data: data})
	}
	if err != nil {
		return fmt.Errorf("timers: schedule: %w", err)
	}
	return nil
}

// Cancel drops the pending timers under prefix (a whole key, or
// "<rule>.<customer>." for all of a rule's waits for a customer).
func (s *TimerScheduler) Cancel(ctx context.Context, tenant, prefix string) error {
	subject := TimerSubject(tenant, prefix)
	if len(prefix) > 0 && prefix[len(prefix)-1] == '.' {
		subject += ">"
	}
	err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("timers: cancel: %w", err)
	}
	return nil
}

// Pending counts scheduled timers, for metrics and tests.
func (s *TimerScheduler) Pending(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter("cx.trigger.timer.>"))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
