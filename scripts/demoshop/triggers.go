package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
)

// showTriggers prints the trigger service's firings for the demo tenant as
// they happen — at once for a resolved ticket or a low score, seconds later
// for the scaled-down "7 days after delivery" — then the agents' tasks.
func showTriggers(natsURL, triggerAddr string, since time.Time) error {
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, "JOURNEY", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"cx.demo.journey.trigger.fired"}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
	if err != nil {
		return err
	}
	fmt.Println("\n── The trigger service's default pack acts on it (a week lasts 30 s in the demo; watching for 45 s) ──")
	seen := 0
	for time.Since(since) < 45*time.Second {
		msgs, err := c.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break
		}
		for m := range msgs.Messages() {
			ev := &journeyv1.JourneyEvent{}
			if proto.Unmarshal(m.Data(), ev) != nil {
				continue
			}
			f := ev.GetTriggerFired()
			seen++
			what := "did: " + strings.Join(f.GetActions(), ", ")
			if f.GetSuppressed() {
				what = "held back: " + f.GetSuppressionReason()
			}
			fmt.Printf("   +%4.1fs  %-28s %-24s (customer %s)\n", time.Since(since).Seconds(), f.GetRuleId(), what, who(ev.GetCustomer()))
		}
	}
	if seen == 0 {
		fmt.Println("   (no rule fired)")
	}

	conn, err := grpc.NewClient(triggerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	tasks, err := triggerv1.NewTriggerServiceClient(conn).ListTasks(context.Background(), &triggerv1.ListTasksRequest{Tenant: "demo"})
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	fmt.Println("\n── Follow-up tasks for the CX team ──")
	for _, t := range tasks.GetTasks() {
		fmt.Printf("   [%s] %s — due %s (%s)\n", strings.TrimPrefix(t.GetPriority().String(), "TASK_PRIORITY_"), t.GetReason(),
			t.GetDueAt().AsTime().Local().Format("15:04:05"), strings.TrimPrefix(t.GetState().String(), "TASK_STATE_"))
	}
	for _, q := range []struct{ stream, what string }{{"SURVEY_INVITATIONS", "survey invitations"}, {"NOTIFICATION_REQUESTS", "message requests"}} {
		s, err := js.Stream(context.Background(), q.stream)
		if err == nil {
			if info, err := s.Info(context.Background()); err == nil {
				fmt.Printf("   %d %s wait on %s for the survey and notification services\n", info.State.Msgs, q.what, q.stream)
			}
		}
	}
	return nil
}

func who(c *journeyv1.Customer) string {
	switch {
	case c.GetCustomerId() != "":
		return c.GetCustomerId()
	case c.GetAnonymousId() != "":
		return c.GetAnonymousId()
	}
	return "?"
}
