// Command ingest runs Bazgasht's public write API: shops publish journey
// events over HTTP, gRPC and webhooks, and get 2xx only once JetStream
// has stored them.
package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // IANA zones for customer time zones, even on scratch images

	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/logging"
	"github.com/bazgasht/bazgasht/platform/telemetry"
	"github.com/bazgasht/bazgasht/services/ingest/internal/service"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-healthcheck" {
		os.Exit(admin.Healthcheck(cmp.Or(os.Getenv("INGEST_ADMIN_ADDR"), ":7080")))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	log := logging.New(os.Stderr, "ingest", level)

	shutdown, err := telemetry.Setup(ctx, "ingest")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()
	return service.Run(ctx, cfg, log)
}
