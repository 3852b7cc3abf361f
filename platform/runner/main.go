package runner

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/logging"
	"github.com/bazgasht/bazgasht/platform/telemetry"
)

// Service describes a service's process for Main.
type Service[C any] struct {
	// Name is the service name in logs, traces and metrics.
	Name string
	// AdminEnv and AdminDefault name the admin address `-healthcheck` probes.
	AdminEnv, AdminDefault string
	// Run serves until ctx ends.
	Run func(ctx context.Context, cfg C, log *slog.Logger) error
}

// Main is every service's main: `-healthcheck` probes the running
// service's /readyz (for images without a shell); otherwise it loads the
// configuration, sets up logging and OpenTelemetry, runs until SIGINT or
// SIGTERM, flushes telemetry and exits non-zero on failure.
func Main[C any, PC interface {
	*C
	Logging() string
}](s Service[C]) {
	if len(os.Args) == 2 && os.Args[1] == "-healthcheck" {
		os.Exit(admin.Healthcheck(cmp.Or(os.Getenv(s.AdminEnv), s.AdminDefault)))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, s, PC(new(C)))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, s.Name+":", err)
		os.Exit(1)
	}
}

func run[C any, PC interface {
	*C
	Logging() string
}](ctx context.Context, s Service[C], cfg PC) error {
	if err := config.Load(cfg); err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.Logging())
	log := logging.New(os.Stderr, s.Name, level)
	shutdown, err := telemetry.Setup(ctx, s.Name)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()
	return s.Run(ctx, *cfg, log)
}
