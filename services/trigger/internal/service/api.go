package service

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
)

// registerAPI wires and registers cx.trigger.v1.TriggerService, and
// returns the task use cases (their outbox is swept in the background).
func registerAPI(srv *grpc.Server, store *adapters.RuleStore, timers *adapters.TimerScheduler, tasks *adapters.TaskKVStore, pub *journeystream.Publisher, conn *broker.Conn) (*app.Tasks, error) {
	rules, err := app.NewRules(store, timers, time.Now)
	if err != nil {
		return nil, err
	}
	events, err := adapters.NewTaskEvents(pub)
	if err != nil {
		return nil, err
	}
	taskCases, err := app.NewTasks(tasks, tasks, events, time.Now)
	if err != nil {
		return nil, err
	}
	history, err := adapters.NewJourneyHistory(conn.JS)
	if err != nil {
		return nil, err
	}
	backtester, err := app.NewBacktester(history, time.Now)
	if err != nil {
		return nil, err
	}
	api, err := ports.NewGRPC(rules, taskCases, backtester)
	if err != nil {
		return nil, err
	}
	triggerv1.RegisterTriggerServiceServer(srv, api)
	return taskCases, nil
}

// sweepOutbox announces completed tasks whose task.completed event a failed
// publish or a crash left unannounced: at start-up, then every period.
func sweepOutbox(tasks *app.Tasks, period time.Duration, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			n, err := tasks.AnnounceOutstanding(ctx, time.Minute)
			if n > 0 {
				log.InfoContext(ctx, "announced completed tasks left unannounced", "tasks", n)
			}
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "task outbox sweep", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}

// serviceDescs are the services whose health the trigger reports.
func serviceDescs() []grpc.ServiceDesc {
	return []grpc.ServiceDesc{triggerv1.TriggerService_ServiceDesc}
}
