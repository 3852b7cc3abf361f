// Command trigger runs Bazgasht's trigger service: it notices the moments
// that decide whether a customer comes back — a delivery a week ago, a
// product viewed and not bought, ninety days of silence, a low score — and
// acts on them exactly once: a survey, a message, a task for an agent.
package main

import (
	_ "time/tzdata" // IANA zones for customers' time zones

	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/services/trigger/internal/service"
)

func main() {
	runner.Main(runner.Service[service.Config]{
		Name: "trigger", AdminEnv: "TRIGGER_ADMIN_ADDR", AdminDefault: ":7082", Run: service.Run,
	})
}
