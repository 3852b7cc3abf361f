package topology

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names the trigger service owns, and the work queues it feeds.
const (
	// TriggerTimers holds the durable timers of delay, absence and
	// inactivity rules: a message schedule on cx.trigger.timer.<tenant>.<key>
	// (one per subject: a new one replaces the old) fires a copy onto
	// cx.trigger.fire.<tenant>.<key> at its moment.
	TriggerTimers = "TRIGGER_TIMERS"
	// TriggerConsumer is the trigger service's durable consumer of JOURNEY.
	TriggerConsumer = "trigger"
	// TriggerTimerConsumer consumes fired timers.
	TriggerTimerConsumer = "trigger-timers"
	// TriggerMaxDeliver is how often the trigger service tries a message
	// before dead-lettering it (see ProfileMaxDeliver).
	TriggerMaxDeliver = 12
	// TriggerState holds firing records, caps and stops.
	TriggerState = "TRIGGER_STATE"
	// RulesBucket holds every version of every tenant's rules.
	RulesBucket = "RULES"
	// TasksBucket holds follow-up tasks.
	TasksBucket = "TASKS"
	// SurveyInvitations is the work queue of survey invitation requests
	// (cx.<tenant>.survey.invite, body cx.survey.v1.InviteRequest).
	SurveyInvitations = "SURVEY_INVITATIONS"
	// NotificationRequests is the work queue of notification requests
	// (cx.<tenant>.notification.send, body cx.notification.v1.SendRequest).
	NotificationRequests = "NOTIFICATION_REQUESTS"
)

// WorkQueue is a stream from which each message is taken once.
func WorkQueue(name, subject string, o Options) jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{subject},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   o.Replicas,
		Duplicates: o.DuplicateWindow,
		Metadata:   map[string]string{"bazgasht.io/kind": "work queue"},
	}
}

// Trigger is what the trigger service owns and uses.
func Trigger(o Options) Set {
	o = o.withDefaults()
	kv := func(name, desc string) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: name, Description: desc, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas}
	}
	rules := kv(RulesBucket, "Bazgasht trigger rules, every version")
	rules.History = 64
	// Firing records, caps and stops are kept 180 days: long past any
	// duplicate and any cap window, without growing forever.
	state := kv(TriggerState, "Bazgasht trigger firings, caps and stops")
	state.TTL = 180 * 24 * time.Hour
	return Set{
		Streams: []jetstream.StreamConfig{
			JourneyStream(o), DeadLetterStream(o),
			{
				Name:        TriggerTimers,
				Description: "Bazgasht trigger timers: message schedules and the messages they fire",
				Subjects:    []string{"cx.trigger.timer.>", "cx.trigger.fire.>"},
				Storage:     jetstream.FileStorage,
				// A fired timer is removed once the trigger service acked
				// it; schedules match no consumer and stay until they fire.
				Retention:         jetstream.WorkQueuePolicy,
				Replicas:          o.Replicas,
				AllowMsgSchedules: true,
				AllowRollup:       true,
				AllowDirect:       true,
				Metadata:          map[string]string{"bazgasht.io/owner": "trigger"},
			},
			WorkQueue(SurveyInvitations, "cx.*.survey.invite", o),
			WorkQueue(NotificationRequests, "cx.*.notification.send", o),
		},
		KeyValues: []jetstream.KeyValueConfig{
			state,
			rules,
			kv(TasksBucket, "Bazgasht follow-up tasks"),
		},
		Consumers: []Consumer{
			{Stream: Journey, Config: jetstream.ConsumerConfig{
				Durable: TriggerConsumer, Description: "trigger service: matches journey events against rules",
				FilterSubject: "cx.*.journey.>", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 10000, Replicas: o.Replicas,
			}},
			{Stream: TriggerTimers, Config: jetstream.ConsumerConfig{
				Durable: TriggerTimerConsumer, Description: "trigger service: fires rules whose timers ended",
				FilterSubject: "cx.trigger.fire.>", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 10000, Replicas: o.Replicas,
			}},
		},
	}
}
