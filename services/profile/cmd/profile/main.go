// Command profile runs Bazgasht's profile service: it folds every journey
// event into the 360° customer profile and serves profiles, timelines,
// segments and KPIs over gRPC, with hot profiles cached in Redis.
package main

import (
	_ "time/tzdata" // IANA zones for customer time zones and Jalali reports

	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/services/profile/internal/service"
)

func main() {
	runner.Main(runner.Service[service.Config]{
		Name: "profile", AdminEnv: "PROFILE_ADMIN_ADDR", AdminDefault: ":7081", Run: service.Run,
	})
}
