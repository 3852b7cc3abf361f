package service

import (
	"time"

	"google.golang.org/grpc"

	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
)

// registerAPI wires and registers cx.trigger.v1.TriggerService.
func registerAPI(srv *grpc.Server, store *adapters.RuleStore, timers *adapters.TimerScheduler, tasks *adapters.TaskKVStore, pub *journeystream.Publisher, conn *broker.Conn) error {
	rules, err := app.NewRules(store, timers, time.Now)
	if err != nil {
		return err
	}
	events, err := adapters.NewTaskEvents(pub)
	if err != nil {
		return err
	}
	taskCases, err := app.NewTasks(tasks, events, time.Now)
	if err != nil {
		return err
	}
	history, err := adapters.NewJourneyHistory(conn.JS)
	if err != nil {
		return err
	}
	backtester, err := app.NewBacktester(history, time.Now)
	if err != nil {
		return err
	}
	api, err := ports.NewGRPC(rules, taskCases, backtester)
	if err != nil {
		return err
	}
	triggerv1.RegisterTriggerServiceServer(srv, api)
	return nil
}

// serviceDescs are the services whose health the trigger reports.
func serviceDescs() []grpc.ServiceDesc {
	return []grpc.ServiceDesc{triggerv1.TriggerService_ServiceDesc}
}
