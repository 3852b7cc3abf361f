// Package service wires the ingest service together from its configuration.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	ingestv1 "github.com/bazgasht/bazgasht/gen/cx/ingest/v1"
	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/ports"
)

// Config is the ingest service's configuration; every field is an
// environment variable with the default shown.
type Config struct {
	config.Base
	// HTTPAddr serves the public HTTP API and shop webhooks.
	HTTPAddr string `env:"INGEST_HTTP_ADDR" envDefault:":8080"`
	// GRPCAddr serves cx.ingest.v1.IngestService, health and reflection.
	GRPCAddr string `env:"INGEST_GRPC_ADDR" envDefault:":9080"`
	// AdminAddr serves /healthz, /readyz and /metrics.
	AdminAddr string `env:"INGEST_ADMIN_ADDR" envDefault:":7080"`
	// TenantsFile is the JSON tenants file (see docs/ingest.md).
	TenantsFile string `env:"INGEST_TENANTS_FILE"`
	// Tenants is the same JSON inline, used when TenantsFile is empty.
	Tenants string `env:"INGEST_TENANTS"`
	// PublishTimeout bounds waiting for JetStream's acknowledgement; past
	// it the answer is 503 with Retry-After.
	PublishTimeout time.Duration `env:"INGEST_PUBLISH_TIMEOUT" envDefault:"2s"`
	// RetryAfter is what 503 answers ask clients to wait.
	RetryAfter time.Duration `env:"INGEST_RETRY_AFTER" envDefault:"1s"`
	// MaxClockSkew is how far in the future occurred_at may be.
	MaxClockSkew time.Duration `env:"INGEST_MAX_CLOCK_SKEW" envDefault:"5m"`
	// DefaultRate and DefaultBurst are each tenant's event rate limit unless
	// its entry says otherwise (0 = unlimited).
	DefaultRate  float64 `env:"INGEST_DEFAULT_RATE" envDefault:"1000"`
	DefaultBurst int     `env:"INGEST_DEFAULT_BURST" envDefault:"2000"`
	// DefaultPhoneCountryCode is each tenant's country calling code for
	// national phone numbers unless its entry says otherwise ("": none).
	DefaultPhoneCountryCode string `env:"INGEST_DEFAULT_PHONE_COUNTRY_CODE"`
	// SharedRateLimits keeps the limits in Redis, so they hold across
	// replicas; false limits each replica on its own.
	SharedRateLimits bool `env:"INGEST_SHARED_RATE_LIMITS" envDefault:"true"`
	// EventBytes and BatchBytes bound request bodies.
	EventBytes int64 `env:"INGEST_MAX_EVENT_BYTES" envDefault:"65536"`
	BatchBytes int64 `env:"INGEST_MAX_BATCH_BYTES" envDefault:"1048576"`
}

// Validate reports the first setting the service cannot use.
func (c *Config) Validate() error {
	switch {
	case c.PublishTimeout <= 0:
		return errors.New("config: INGEST_PUBLISH_TIMEOUT must be positive")
	case c.EventBytes < 1024 || c.BatchBytes < c.EventBytes:
		return errors.New("config: INGEST_MAX_EVENT_BYTES must be at least 1024 and INGEST_MAX_BATCH_BYTES at least as large")
	case c.BatchBytes > 8<<20:
		return errors.New("config: INGEST_MAX_BATCH_BYTES above 8 MiB exceeds what JetStream messages allow")
	case c.DefaultRate > 0 && c.DefaultBurst < app.MaxBatch:
		return fmt.Errorf("config: INGEST_DEFAULT_BURST %d is below %d, the largest batch", c.DefaultBurst, app.MaxBatch)
	}
	return nil
}

// rateLimitFallbackPause is how long each replica limits on its own after
// Redis failed to answer, before asking it again.
const rateLimitFallbackPause = 5 * time.Second

// Run connects, ensures the topology and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := adapters.CheckCountryCode(cfg.DefaultPhoneCountryCode); err != nil {
		return fmt.Errorf("config: INGEST_DEFAULT_PHONE_COUNTRY_CODE: %w", err)
	}
	tenants, err := adapters.LoadTenants(cfg.TenantsFile, cfg.Tenants, adapters.Defaults{RatePerSecond: cfg.DefaultRate, Burst: cfg.DefaultBurst,
		PhoneCountryCode: cfg.DefaultPhoneCountryCode})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	conn, err := broker.Open(ctx, cfg.NATSURL, "ingest", topology.Ingest(cfg.Topology()), log)
	if err != nil {
		return err
	}
	defer conn.CloseWithin(5 * time.Second)

	pub, err := adapters.NewJourneyPublisher(conn.NC, cfg.PublishTimeout)
	if err != nil {
		return err
	}
	reg := admin.NewRegistry()
	var limiter app.Limiter = adapters.NewRateLimiter(time.Now)
	if cfg.SharedRateLimits {
		rdb, err := redisconn.New(cfg.RedisURL, redisconn.CacheTimeouts)
		if err != nil {
			return err
		}
		defer rdb.Close()
		limiter = adapters.NewSharedRateLimiter(rdb, rateLimitFallbackPause, time.Now, log, adapters.WithLimiterMetrics(reg))
	}
	handler, err := app.NewPublishEventsHandler(pub, limiter, time.Now, cfg.MaxClockSkew)
	if err != nil {
		return err
	}

	metrics := ports.NewMetrics(reg)
	httpPort, err := ports.NewHTTP(handler, tenants, ports.Limits{EventBytes: cfg.EventBytes, BatchBytes: cfg.BatchBytes, RetryAfter: cfg.RetryAfter}, log, metrics)
	if err != nil {
		return err
	}
	grpcPort, err := ports.NewGRPC(handler, tenants, cfg.RetryAfter, metrics)
	if err != nil {
		return err
	}

	grpcSrv, health := grpcserver.New()
	ingestv1.RegisterIngestServiceServer(grpcSrv, grpcPort)
	grpcserver.Serving(health, ingestv1.IngestService_ServiceDesc)

	api := &http.Server{
		Handler:           Traced(httpPort.Handler()),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	adminSrv := &http.Server{
		Handler:           admin.Profiled(cfg.Profiling, admin.Handler(reg, admin.Check{Name: "nats", Probe: conn.Ready})),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.InfoContext(ctx, "ingest serving", "http", cfg.HTTPAddr, "grpc", cfg.GRPCAddr, "admin", cfg.AdminAddr, "tenants", len(tenants.IDs()))
	defer health.Shutdown()
	return runner.Run(ctx,
		runner.HTTP("ingest api", cfg.HTTPAddr, api),
		runner.GRPC("ingest grpc", cfg.GRPCAddr, grpcSrv),
		runner.HTTP("ingest admin", cfg.AdminAddr, adminSrv),
	)
}

// Traced wraps the API in a server span per request, named by route.
func Traced(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "ingest",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return routeOf(r) }))
}

// routeOf names a request "{method} {route}" by the mux pattern that
// matched (patterns carry the method: "POST /v1/events"), never by its
// path: a path holds a tenant id, and span names must stay few.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method
}
