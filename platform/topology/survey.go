package topology

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names the survey service owns.
const (
	// SurveysBucket holds survey definitions: every version under
	// <tenant>.v.<survey>.<version> and the current one under
	// <tenant>.cur.<survey>.
	SurveysBucket = "SURVEYS"
	// SurveyResponsesBucket holds invitations with their answers under
	// <tenant>.<invitation id>: the durable record KPIs are rebuilt from.
	SurveyResponsesBucket = "SURVEY_RESPONSES"
	// SurveyFatigueBucket holds when each customer was last invited, under
	// <tenant>.<customer key>, for fatigue control.
	SurveyFatigueBucket = "SURVEY_FATIGUE"
	// SurveyOutcomesConsumer is the survey service's durable consumer of
	// the notification service's failed and suppressed events on JOURNEY.
	SurveyOutcomesConsumer = "survey-outcomes"
	// SurveyConsumer is the survey service's durable consumer of the
	// SURVEY_INVITATIONS work queue.
	SurveyConsumer = "survey"
	// SurveyMaxDeliver is how often the survey service tries an invitation
	// request before dead-lettering it.
	SurveyMaxDeliver = 12
	// SurveyFatigueTTL bounds how long fatigue records are kept; a fatigue
	// period longer than this is refused at start-up.
	SurveyFatigueTTL = 400 * 24 * time.Hour
)

// Survey is what the survey service owns and uses: the invitation work
// queue it consumes, the notification queue it feeds, the journey stream
// it publishes to, and its buckets.
func Survey(o Options) Set {
	o = o.withDefaults()
	kv := func(name, desc string) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: name, Description: desc, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas}
	}
	fatigue := kv(SurveyFatigueBucket, "Bazgasht survey fatigue: when each customer was last invited")
	fatigue.TTL = SurveyFatigueTTL
	return Set{
		Streams: []jetstream.StreamConfig{
			JourneyStream(o), DeadLetterStream(o),
			WorkQueue(SurveyInvitations, "cx.*.survey.invite", o),
			WorkQueue(NotificationRequests, "cx.*.notification.send", o),
		},
		KeyValues: []jetstream.KeyValueConfig{
			kv(SurveysBucket, "Bazgasht survey definitions, every version"),
			kv(SurveyResponsesBucket, "Bazgasht survey invitations and answers"),
			fatigue,
		},
		Consumers: []Consumer{
			{Stream: SurveyInvitations, Config: jetstream.ConsumerConfig{
				Durable: SurveyConsumer, Description: "survey service: turns invitation requests into invitations",
				FilterSubject: "cx.*.survey.invite", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1000, Replicas: o.Replicas,
			}},
			{Stream: Journey, Config: jetstream.ConsumerConfig{
				Durable: SurveyOutcomesConsumer, Description: "survey service: invitations whose message was held back or failed",
				FilterSubjects: []string{"cx.*.journey.notification.failed", "cx.*.journey.notification.suppressed"},
				DeliverPolicy:  jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1000, Replicas: o.Replicas,
			}},
		},
	}
}
