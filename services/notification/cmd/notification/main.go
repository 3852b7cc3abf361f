// Command notification runs Bazgasht's notification service: every message
// the platform sends a customer — on the customer's own channel, with their
// consent, outside their quiet hours, within frequency caps — exactly once.
package main

import (
	_ "time/tzdata" // IANA zones for customers' time zones

	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/services/notification/internal/service"
)

func main() {
	runner.Main(runner.Service[service.Config]{
		Name: "notification", AdminEnv: "NOTIFICATION_ADMIN_ADDR", AdminDefault: ":7084", Run: service.Run,
	})
}
