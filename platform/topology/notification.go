package topology

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The notification service's JetStream names.
const (
	// NotificationConsumer is the durable consumer of NOTIFICATION_REQUESTS.
	NotificationConsumer = "notification"
	// NotificationDeferred holds requests that must wait — held for quiet
	// hours or backing off after a provider error — away from the work
	// queue, so that a night's marketing or a provider's outage never
	// stands between a customer and their one-time code.
	NotificationDeferred = "NOTIFICATION_DEFERRED"
	// NotificationDeferredConsumer is the durable consumer of
	// NOTIFICATION_DEFERRED.
	NotificationDeferredConsumer = "notification-deferred"
	// NotificationLedger is the send ledger: one record per (tenant,
	// notification id), written with compare-and-set, and the index from
	// providers' message ids to notifications for delivery reports.
	NotificationLedger = "NOTIFICATION_LEDGER"
	// NotificationTemplates holds tenants' templates, every version.
	NotificationTemplates = "NOTIFICATION_TEMPLATES"
	// NotificationCaps holds each customer's recent marketing messages for
	// the frequency cap.
	NotificationCaps = "NOTIFICATION_CAPS"
	// NotificationUnsubscribes holds which customers left which channel.
	NotificationUnsubscribes = "NOTIFICATION_UNSUBSCRIBES"
)

// NotificationOptions tune the notification service's consumer.
type NotificationOptions struct {
	// AckWait is how long a request may be in the hands of one worker
	// before JetStream gives it to another; also the lease of a "sending"
	// ledger record. 30 s when 0.
	AckWait time.Duration
	// LedgerTTL is how long ledger records are kept, so a duplicate request
	// that late is still recognised. 90 days when 0.
	LedgerTTL time.Duration
}

// Notification is the notification service's topology. A request that must
// wait is moved from the work queue to NOTIFICATION_DEFERRED, where it stays
// unacknowledged (negative acknowledgement with a delay) until it is due;
// that consumer allows very many pending messages. Both allow unlimited
// deliveries: the ledger, not the delivery count, bounds retries.
func Notification(o Options, n NotificationOptions) Set {
	o = o.withDefaults()
	if n.AckWait <= 0 {
		n.AckWait = 30 * time.Second
	}
	if n.LedgerTTL <= 0 {
		n.LedgerTTL = 90 * 24 * time.Hour
	}
	kv := func(name, desc string) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: name, Description: desc, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas}
	}
	ledger := kv(NotificationLedger, "Bazgasht send ledger: one record per tenant and notification id")
	ledger.TTL = n.LedgerTTL
	return Set{
		Streams: []jetstream.StreamConfig{
			JourneyStream(o), DeadLetterStream(o),
			WorkQueue(NotificationRequests, "cx.*.notification.send", o),
			{
				Name:        NotificationDeferred,
				Description: "Bazgasht notification requests held for quiet hours or backing off",
				Subjects:    []string{"cx.notification.deferred.>"},
				Storage:     jetstream.FileStorage,
				Retention:   jetstream.WorkQueuePolicy,
				Replicas:    o.Replicas,
				Duplicates:  o.DuplicateWindow,
				Metadata:    map[string]string{"bazgasht.io/owner": "notification"},
			},
		},
		KeyValues: []jetstream.KeyValueConfig{
			ledger,
			kv(NotificationTemplates, "Bazgasht notification templates, every version"),
			kv(NotificationCaps, "Bazgasht marketing messages per customer, for frequency caps"),
			kv(NotificationUnsubscribes, "Bazgasht unsubscribes per tenant, customer and channel"),
		},
		Consumers: []Consumer{{Stream: NotificationRequests, Config: jetstream.ConsumerConfig{
			Durable: NotificationConsumer, Description: "notification service: sends requested notifications exactly once",
			FilterSubject: "cx.*.notification.send", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: n.AckWait, MaxDeliver: -1, MaxAckPending: 20000, Replicas: o.Replicas,
		}}, {Stream: NotificationDeferred, Config: jetstream.ConsumerConfig{
			Durable: NotificationDeferredConsumer, Description: "notification service: sends held and retried notifications when due",
			FilterSubject: "cx.notification.deferred.>", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: n.AckWait, MaxDeliver: -1, MaxAckPending: 1_000_000, Replicas: o.Replicas,
		}}},
	}
}
