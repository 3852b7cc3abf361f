package command

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// tail prints the tenant's journey events as they arrive (or the last
// ones, with -last), until interrupted or -count events were shown.
func tail(e *env, args []string) error {
	var typ string
	var count, last int
	pos, err := e.flags("tail", args, func(fs *flagSet) {
		fs.StringVar(&typ, "type", "", "only this event type, such as order.placed")
		fs.IntVar(&count, "count", 0, "stop after this many events (0: until interrupted)")
		fs.IntVar(&last, "last", 0, "start with the last N events stored")
	})
	if err != nil {
		return err
	}
	if len(pos) != 0 || count < 0 || last < 0 {
		return usagef("takes only -type, -count and -last (not negative)")
	}
	nc, err := nats.Connect(e.nats, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("NATS at %s: %w", e.nats, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	subject := "cx." + e.tenant + ".journey.>"
	if typ != "" {
		subject = "cx." + e.tenant + ".journey." + typ
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if last > 0 {
		s, err := js.Stream(e.ctx, "JOURNEY")
		if err != nil {
			return err
		}
		info, err := s.Info(e.ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		n := uint64(0)
		for _, c := range info.State.Subjects {
			n += c
		}
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		// Start from the first and drop what comes before the last N.
		skip := n - min(n, uint64(last))
		cons, err := js.OrderedConsumer(e.ctx, "JOURNEY", cfg)
		if err != nil {
			return err
		}
		return e.printEvents(cons, count, skip)
	}
	cons, err := js.OrderedConsumer(e.ctx, "JOURNEY", cfg)
	if err != nil {
		return err
	}
	if !e.json {
		fmt.Fprintf(e.out, "tailing %s (Ctrl-C stops)\n", subject)
	}
	return e.printEvents(cons, count, 0)
}

func (e *env) printEvents(cons jetstream.Consumer, count int, skip uint64) error {
	shown := 0
	for e.ctx.Err() == nil && (count == 0 || shown < count) {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			return err
		}
		for m := range msgs.Messages() {
			if skip > 0 {
				skip--
				continue
			}
			if count > 0 && shown >= count {
				break
			}
			ev := &journeyv1.JourneyEvent{}
			if err := proto.Unmarshal(m.Data(), ev); err != nil {
				continue
			}
			shown++
			if e.json {
				b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
				fmt.Fprintln(e.out, string(b))
				continue
			}
			fmt.Fprintf(e.out, "%s  %-22s %-28s %s\n", ev.GetOccurredAt().AsTime().Local().Format("2006-01-02 15:04:05"), ev.GetType(), who(ev.GetCustomer()), ev.GetId())
		}
	}
	return nil
}

// who names a customer by their most authoritative identity kind, not the
// value of a personal one.
func who(c *journeyv1.Customer) string {
	switch {
	case c.GetCustomerId() != "":
		return "customer " + c.GetCustomerId()
	case c.GetEmail() != "":
		return "by email"
	case c.GetPhone() != "":
		return "by phone"
	case c.GetAnonymousId() != "":
		return "anon " + c.GetAnonymousId()
	}
	return "-"
}
