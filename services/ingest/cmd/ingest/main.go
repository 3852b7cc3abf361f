// Command ingest runs Bazgasht's public write API: shops publish journey
// events over HTTP, gRPC and webhooks, and get 2xx only once JetStream
// has stored them.
package main

import (
	_ "time/tzdata" // IANA zones for customer time zones, even on scratch images

	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/services/ingest/internal/service"
)

func main() {
	runner.Main(runner.Service[service.Config]{
		Name: "ingest", AdminEnv: "INGEST_ADMIN_ADDR", AdminDefault: ":7080", Run: service.Run,
	})
}
