// Package topology declares Bazgasht's JetStream streams, consumers and
// key-value buckets in one place and creates them idempotently at start-up.
// Each service ensures the part it uses; a server too old for a feature in
// use is refused with the version it needs.
package topology

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	// Journey holds every journey event of every tenant, on subjects
	// cx.<tenant>.journey.<type>.
	Journey = "JOURNEY"
	// DeadLetter holds messages a consumer gave up on, with the reason in
	// the Bazgasht-Dead-Reason header, on cx.<tenant>.deadletter.<consumer>.
	DeadLetter = "DEADLETTER"
)

// Options tune the declarations for a deployment.
type Options struct {
	// Replicas of each stream and bucket: 1 in development, 3 in production.
	Replicas int
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values.
	// The server keeps them in memory: keep it short and let services keep
	// their own idempotency records for late duplicates.
	DuplicateWindow time.Duration
}

func (o Options) withDefaults() Options {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	return o
}

// Set is the part of the topology one service needs.
type Set struct {
	Streams   []jetstream.StreamConfig
	KeyValues []jetstream.KeyValueConfig
	Consumers []Consumer
}

// Consumer is a durable consumer of a stream.
type Consumer struct {
	Stream string
	Config jetstream.ConsumerConfig
}

// ProfileBucket holds profiles, the identity index and segment memberships,
// under keys <tenant>.p.<profile>, <tenant>.i.<identity hash>,
// <tenant>.s.<segment>.<profile>, <tenant>.m.<merged profile> (the
// survivor's id) and <tenant>.tenant (the tenant's marker).
const ProfileBucket = "PROFILES"

// ProfileConsumer is the profile service's durable consumer of JOURNEY.
const ProfileConsumer = "profile"

// ProfileMaxDeliver is how often the profile service tries an event before
// dead-lettering it; with doubling waits from one second (capped at five
// minutes) that is about twenty minutes of retries. The consumers
// themselves do not limit deliveries, so a message whose dead-lettering
// failed comes back.
const ProfileMaxDeliver = 12

// ProfileAckWait is how long the profile consumer's deliveries may stay
// unacknowledged before JetStream delivers them again.
const ProfileAckWait = 30 * time.Second

// Profile is what the profile service owns and uses.
func Profile(o Options) Set {
	o = o.withDefaults()
	return Set{
		Streams: []jetstream.StreamConfig{JourneyStream(o), DeadLetterStream(o)},
		KeyValues: []jetstream.KeyValueConfig{{
			Bucket:      ProfileBucket,
			Description: "Bazgasht customer profiles, identity index and segment memberships",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
		}},
		Consumers: []Consumer{{Stream: Journey, Config: jetstream.ConsumerConfig{
			Durable:       ProfileConsumer,
			Description:   "profile service: folds journey events into profiles",
			FilterSubject: "cx.*.journey.>",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ProfileAckWait,
			MaxDeliver:    -1,
			MaxAckPending: 20000,
			Replicas:      o.Replicas,
		}}},
	}
}

// JourneyStream is the JOURNEY stream: file storage, kept until an operator
// limits it, so replaying it from the start rebuilds every profile.
func JourneyStream(o Options) jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:        Journey,
		Description: "Bazgasht journey events of every tenant",
		Subjects:    []string{"cx.*.journey.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    o.Replicas,
		Duplicates:  o.DuplicateWindow,
		MaxMsgSize:  1 << 20,
		Discard:     jetstream.DiscardOld,
		Metadata:    map[string]string{"bazgasht.io/contract": "cx.journey.v1.JourneyEvent"},
	}
}

// DeadLetterStream is where consumers put messages they gave up on.
func DeadLetterStream(o Options) jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:        DeadLetter,
		Description: "Messages a Bazgasht consumer gave up on, with the reason",
		Subjects:    []string{"cx.*.deadletter.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      30 * 24 * time.Hour,
		Metadata:    map[string]string{"bazgasht.io/contract": "original message, reason in Bazgasht-Dead-Reason"},
	}
}

// Ingest is what the ingest service publishes to.
func Ingest(o Options) Set {
	return Set{Streams: []jetstream.StreamConfig{JourneyStream(o), DeadLetterStream(o)}}
}

// Version is a nats-server release.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// ParseVersion reads "2.15.2" (a suffix such as "-beta" is ignored).
func ParseVersion(s string) (Version, error) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("topology: server version %q is not major.minor.patch", s)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil {
			return Version{}, fmt.Errorf("topology: server version %q: %w", s, err)
		}
		n[i] = x
	}
	return Version{n[0], n[1], n[2]}, nil
}

// requirement is a stream feature and the first server release that has it.
type requirement struct {
	feature string
	min     Version
}

// requirements lists the server features a set uses.
func (s Set) requirements() []requirement {
	var reqs []requirement
	for _, c := range s.Streams {
		if len(c.Metadata) > 0 {
			reqs = append(reqs, requirement{"stream metadata (" + c.Name + ")", Version{2, 10, 0}})
		}
		if c.AllowMsgTTL {
			reqs = append(reqs, requirement{"per-message TTL (" + c.Name + ")", Version{2, 11, 0}})
		}
		if c.AllowMsgSchedules {
			reqs = append(reqs, requirement{"message schedules (" + c.Name + ")", Version{2, 12, 0}})
		}
	}
	return reqs
}

// CheckServer refuses a server older than a feature of s needs, naming the
// feature and the version that has it.
func (s Set) CheckServer(serverVersion string) error {
	v, err := ParseVersion(serverVersion)
	if err != nil {
		return err
	}
	for _, r := range s.requirements() {
		if v.Less(r.min) {
			return fmt.Errorf("topology: nats-server %s is too old: %s needs nats-server %s or newer", v, r.feature, r.min)
		}
	}
	return nil
}

// Ensure checks the server and creates or updates every stream of s. It is
// safe to run from every replica of every service at every start.
func Ensure(ctx context.Context, js jetstream.JetStream, serverVersion string, s Set) error {
	if err := s.CheckServer(serverVersion); err != nil {
		return err
	}
	for _, c := range s.Streams {
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			return fmt.Errorf("topology: stream %s: %w", c.Name, err)
		}
	}
	for _, c := range s.KeyValues {
		if _, err := js.CreateOrUpdateKeyValue(ctx, c); err != nil {
			return fmt.Errorf("topology: key-value bucket %s: %w", c.Bucket, err)
		}
	}
	for _, c := range s.Consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config); err != nil {
			return fmt.Errorf("topology: consumer %s on %s: %w", c.Config.Durable, c.Stream, err)
		}
	}
	return nil
}
