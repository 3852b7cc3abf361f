// Command survey runs Bazgasht's survey service: it asks customers, at the
// right moment and not too often, how it went — NPS, CSAT and CES — on a
// small hosted page reached by signed links, and turns every answer into
// a journey event and score KPIs.
package main

import (
	_ "time/tzdata" // IANA zones for KPI periods

	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/services/survey/internal/service"
)

func main() {
	runner.Main(runner.Service[service.Config]{
		Name: "survey", AdminEnv: "SURVEY_ADMIN_ADDR", AdminDefault: ":7083", Run: service.Run,
	})
}
