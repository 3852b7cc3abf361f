// Package service wires the profile service together from its configuration.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/profile/internal/adapters"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
	"github.com/bazgasht/bazgasht/services/profile/internal/ports"
)

// Config is the profile service's configuration; every field is an
// environment variable with the default shown. Durations use Go's syntax
// ("1440h" is 60 days).
type Config struct {
	config.Base
	// GRPCAddr serves cx.profile.v1.ProfileService, health and reflection.
	GRPCAddr string `env:"PROFILE_GRPC_ADDR" envDefault:":9081"`
	// AdminAddr serves /healthz, /readyz and /metrics.
	AdminAddr string `env:"PROFILE_ADMIN_ADDR" envDefault:":7081"`
	// NewFor is how long after a first order a customer counts as new.
	NewFor time.Duration `env:"PROFILE_NEW_FOR" envDefault:"720h"`
	// AtRiskAfter and ChurnAfter are the spans without activity after which
	// a customer is at risk (60 days), then churned (90 days).
	AtRiskAfter time.Duration `env:"PROFILE_AT_RISK_AFTER" envDefault:"1440h"`
	ChurnAfter  time.Duration `env:"PROFILE_CHURN_AFTER" envDefault:"2160h"`
	// VIPRevenue is the revenue per currency from which a customer is VIP,
	// such as "IRT=50000000,USD=1000".
	VIPRevenue string `env:"PROFILE_VIP_REVENUE"`
	// VIPTopPercent makes the top spenders VIP: the top N percent of a
	// tenant's customers by revenue per currency (0: off). With both set, a
	// customer is VIP from the lower of the two.
	VIPTopPercent float64 `env:"PROFILE_VIP_TOP_PERCENT" envDefault:"0"`
	// SweepInterval is how often every profile's segments are re-evaluated
	// so time-based transitions (at risk, churned) are announced.
	SweepInterval time.Duration `env:"PROFILE_SEGMENT_SWEEP" envDefault:"10m"`
	// CacheTTL is how long a profile stays in Redis unread.
	CacheTTL time.Duration `env:"PROFILE_CACHE_TTL" envDefault:"5m"`
	// CachePrefix is put before every Redis key, so deployments (or test
	// runs) sharing one Redis never read each other's entries.
	CachePrefix string `env:"PROFILE_CACHE_PREFIX"`
	// Batch is the most events folded and written together.
	Batch int `env:"PROFILE_BATCH" envDefault:"500"`
	// StoreTimeout bounds one batch's writes to the store.
	StoreTimeout time.Duration `env:"PROFILE_STORE_TIMEOUT" envDefault:"10s"`
	// MemoryEntries is how many profiles the fold keeps in memory.
	MemoryEntries int `env:"PROFILE_MEMORY_ENTRIES" envDefault:"100000"`
	// ReadMemoryEntries is how many decoded profiles reads keep, to serve
	// a repeated Redis hit without decoding it again.
	ReadMemoryEntries int `env:"PROFILE_READ_MEMORY_ENTRIES" envDefault:"10000"`
	// TimelineHold is how long an event that changes only a timeline (a
	// message sent, a rule fired) may wait, unacknowledged, to be written
	// with the profile's next change; 0 writes each at once.
	TimelineHold time.Duration `env:"PROFILE_TIMELINE_HOLD" envDefault:"1s"`
}

// maxTimelineHold keeps held events far inside the consumer's AckWait.
const maxTimelineHold = topology.ProfileAckWait / 3

// Rules turns the configuration into the lifecycle rules.
func (c *Config) Rules() (profile.Rules, error) {
	r := profile.Rules{NewFor: c.NewFor, AtRiskAfter: c.AtRiskAfter, ChurnAfter: c.ChurnAfter, VIPRevenue: profile.Amounts{}, VIPTopPercent: c.VIPTopPercent}
	switch {
	case c.VIPTopPercent < 0 || c.VIPTopPercent > 100:
		return r, errors.New("config: PROFILE_VIP_TOP_PERCENT must be between 0 and 100")
	case c.AtRiskAfter <= 0 || c.ChurnAfter <= c.AtRiskAfter:
		return r, errors.New("config: PROFILE_AT_RISK_AFTER must be positive and PROFILE_CHURN_AFTER longer")
	case c.Batch < 1 || c.Batch > 5000:
		return r, errors.New("config: PROFILE_BATCH must be between 1 and 5000")
	case c.SweepInterval < time.Second:
		return r, errors.New("config: PROFILE_SEGMENT_SWEEP must be at least 1s")
	case c.ReadMemoryEntries < 0:
		return r, errors.New("config: PROFILE_READ_MEMORY_ENTRIES must not be negative")
	case c.TimelineHold < 0 || c.TimelineHold > maxTimelineHold:
		return r, fmt.Errorf("config: PROFILE_TIMELINE_HOLD must be between 0 and %s (held events are unacknowledged, and JetStream redelivers after %s)", maxTimelineHold, topology.ProfileAckWait)
	}
	for _, part := range strings.Split(c.VIPRevenue, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		cur, amount, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(cur) != 3 || !profile.ValidAmount(amount) {
			return r, fmt.Errorf("config: PROFILE_VIP_REVENUE part %q is not CURRENCY=AMOUNT such as IRT=50000000", part)
		}
		r.VIPRevenue[cur] = amount
	}
	return r, nil
}

// Run connects, ensures the topology and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	rules, err := cfg.Rules()
	if err != nil {
		return err
	}
	conn, err := broker.Open(ctx, cfg.NATSURL, "profile", topology.Profile(cfg.Topology()), log)
	if err != nil {
		return err
	}
	defer conn.CloseWithin(5 * time.Second)

	rdb, err := redisconn.New(cfg.RedisURL, redisconn.CacheTimeouts)
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := admin.NewRegistry()
	if err := journeystream.RegisterMetrics(reg); err != nil {
		return err
	}
	epoch, err := adapters.StoreEpoch(ctx, conn.JS)
	if err != nil {
		return err
	}
	cache, err := adapters.NewRedisCache(rdb, cfg.CacheTTL, log, adapters.WithCacheMetrics(reg), adapters.WithCacheKeyPrefix(cfg.CachePrefix+epoch+":"),
		adapters.WithCacheReadMemory(cfg.ReadMemoryEntries))
	if err != nil {
		return err
	}
	repo, err := adapters.NewKVRepository(ctx, conn.JS, cfg.StoreTimeout, cfg.MemoryEntries)
	if err != nil {
		return err
	}
	pub, err := journeystream.NewPublisher(conn.NC, cfg.StoreTimeout)
	if err != nil {
		return err
	}
	events, err := adapters.NewJourneyEvents(ctx, conn.JS)
	if err != nil {
		return err
	}
	folder, err := app.NewApplyEventsHandler(repo, adapters.NewSegmentPublisher(pub, ports.ToDomain), adapters.NewEventSource(events, ports.ToDomain), cache, rules,
		app.WithTimelineHold(cfg.TimelineHold, time.Now))
	if err != nil {
		return err
	}
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bazgasht_profile_timeline_held_events",
		Help: "Events whose timeline-only change waits, unacknowledged, to be written with the profile's next change."},
		func() float64 { return float64(folder.Held()) })); err != nil {
		return err
	}
	queries, err := app.NewQueries(repo, cache, rules, time.Now)
	if err != nil {
		return err
	}
	grpcPort, err := ports.NewGRPC(queries, events)
	if err != nil {
		return err
	}
	consumer, err := conn.JS.Consumer(ctx, topology.Journey, topology.ProfileConsumer)
	if err != nil {
		return fmt.Errorf("profile consumer: %w", err)
	}

	grpcSrv, health := grpcserver.New()
	profilev1.RegisterProfileServiceServer(grpcSrv, grpcPort)
	grpcserver.Serving(health, profilev1.ProfileService_ServiceDesc)
	defer health.Shutdown()
	adminSrv := &http.Server{Handler: admin.Profiled(cfg.Profiling, admin.Handler(reg, admin.Check{Name: "nats", Probe: conn.Ready})), ReadHeaderTimeout: 5 * time.Second}

	consume := journeystream.ConsumeConfig{Durable: topology.ProfileConsumer, MaxDeliver: topology.ProfileMaxDeliver,
		Batch: cfg.Batch, MaxWait: 250 * time.Millisecond, RetryDelay: time.Second}
	log.InfoContext(ctx, "profile serving", "grpc", cfg.GRPCAddr, "admin", cfg.AdminAddr)
	return runner.Run(ctx,
		runner.GRPC("profile grpc", cfg.GRPCAddr, grpcSrv),
		runner.HTTP("profile admin", cfg.AdminAddr, adminSrv),
		cache.Run,
		func(ctx context.Context) error {
			err := journeystream.Consume(ctx, conn.JS, consumer, consume, ports.FoldHandler(folder), log)
			// Write what is held before going: otherwise it comes back after
			// the ack wait, to be folded again.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StoreTimeout)
			defer cancel()
			if ferr := folder.FlushHeld(fctx, true); ferr != nil {
				log.WarnContext(ctx, "held timeline changes not written; their events will be folded again", "err", ferr)
			}
			return err
		},
		folder.RunHeldFlusher,
		func(ctx context.Context) error { return sweep(ctx, folder, repo, cfg.SweepInterval, log) },
		journeystream.WatchLag(consumer, topology.ProfileConsumer, 5*time.Second),
	)
}

// sweep re-evaluates segments every interval until ctx ends.
func sweep(ctx context.Context, folder *app.ApplyEventsHandler, repo *adapters.KVRepository, every time.Duration, log *slog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := folder.SweepSegments(ctx, repo.Refs, time.Now())
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "segment sweep failed", "err", err)
			continue
		}
		log.DebugContext(ctx, "segment sweep done", "transitions", n)
	}
}
