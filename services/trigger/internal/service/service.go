// Package service wires the trigger service together from its configuration.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/ports"
	"github.com/bazgasht/bazgasht/services/trigger/rules"
)

// consumeAhead is how many messages per worker the consumers pull ahead.
const consumeAhead = 8

// Config is the trigger service's configuration; every field is an
// environment variable with the default shown.
type Config struct {
	config.Base
	// GRPCAddr serves cx.trigger.v1.TriggerService, health and reflection.
	GRPCAddr string `env:"TRIGGER_GRPC_ADDR" envDefault:":9082"`
	// AdminAddr serves /healthz, /readyz and /metrics.
	AdminAddr string `env:"TRIGGER_ADMIN_ADDR" envDefault:":7082"`
	// ProfileAddr is the profile service, which rule conditions read.
	ProfileAddr string `env:"TRIGGER_PROFILE_ADDR" envDefault:"127.0.0.1:9081"`
	// DefaultPack turns the default rule pack on for every tenant.
	DefaultPack bool `env:"TRIGGER_DEFAULT_PACK" envDefault:"true"`
	// PackTimeScale multiplies every duration of the default pack (delays,
	// windows, caps); 1 in production, small in a demo ("7 days" become
	// seconds).
	PackTimeScale float64 `env:"TRIGGER_PACK_TIME_SCALE" envDefault:"1"`
	// RulesDir holds tenants' rule files, <dir>/<tenant>/*.yaml, loaded at
	// start-up as new versions of the rules they name.
	RulesDir string `env:"TRIGGER_RULES_DIR"`
	// GlobalCap bounds firings per customer across rules, "COUNT/WINDOW"
	// such as "3/168h"; empty: no global cap.
	GlobalCap string `env:"TRIGGER_GLOBAL_CAP" envDefault:"3/168h"`
	// WebhookSecrets names the secrets webhook actions sign with,
	// "name=secret,other=secret2".
	WebhookSecrets string `env:"TRIGGER_WEBHOOK_SECRETS"`
	// HelpdeskURL receives tasks whose action asks for the helpdesk.
	HelpdeskURL string `env:"TRIGGER_HELPDESK_URL"`
	// Workers handle events (and, as many again, fired timers) at the same
	// time; one customer's events are handled one at a time, in order.
	Workers int `env:"TRIGGER_WORKERS" envDefault:"32"`
	// StoreTimeout bounds one publish or store call.
	StoreTimeout time.Duration `env:"TRIGGER_STORE_TIMEOUT" envDefault:"5s"`
}

func (c *Config) globalCap() (app.GlobalCap, error) {
	if c.GlobalCap == "" {
		return app.GlobalCap{}, nil
	}
	n, w, ok := strings.Cut(c.GlobalCap, "/")
	var g app.GlobalCap
	d, err := rule.ParseDuration(w)
	if _, serr := fmt.Sscanf(n, "%d", &g.Count); !ok || serr != nil || err != nil || g.Count < 1 || d <= 0 {
		return g, fmt.Errorf("config: TRIGGER_GLOBAL_CAP %q is not COUNT/WINDOW such as 3/168h", c.GlobalCap)
	}
	g.Window = time.Duration(d)
	return g, nil
}

func (c *Config) secrets() (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(c.WebhookSecrets, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" || v == "" {
			return nil, errors.New("config: TRIGGER_WEBHOOK_SECRETS must be name=secret pairs separated by commas")
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// Pack loads the default rule pack, its durations scaled.
func Pack(scale float64) ([]rule.Rule, error) {
	pack, err := adapters.LoadRuleFiles(rules.Default, rules.DefaultDir)
	if err != nil {
		return nil, err
	}
	if scale <= 0 {
		return nil, errors.New("config: TRIGGER_PACK_TIME_SCALE must be positive")
	}
	sc := func(d *rule.Duration) { *d = rule.Duration(float64(*d) * scale) }
	for i := range pack {
		r := &pack[i]
		if r.Version == 0 {
			r.Version = 1 // the pack's rules are version 1; a tenant's change is 2
		}
		sc(&r.Delay)
		sc(&r.Within)
		sc(&r.Period)
		sc(&r.Controls.CapWindow)
		for j := range r.Actions {
			if t := r.Actions[j].Task; t != nil {
				sc(&t.DueIn)
			}
		}
	}
	return pack, nil
}

// loadRulesDir stores every tenant's rule files as new versions where they
// differ from what is stored; a rule that does not validate stops the
// start-up with its file, line and field.
func loadRulesDir(ctx context.Context, dir string, store *adapters.RuleStore, log *slog.Logger) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("config: TRIGGER_RULES_DIR: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		tenant := e.Name()
		if err := journey.CheckTenant(tenant); err != nil {
			return fmt.Errorf("config: TRIGGER_RULES_DIR/%s: %w", tenant, err)
		}
		rs, err := adapters.LoadRuleFiles(os.DirFS(dir), tenant)
		if err != nil {
			return err
		}
		for _, r := range rs {
			cur, err := store.Rule(ctx, tenant, r.ID, 0)
			if err == nil && rule.SameDefinition(cur, r) {
				continue
			}
			r.UpdatedBy = "file:" + filepath.Join(tenant, r.ID)
			create := errors.Is(err, adapters.ErrRuleNotFound)
			if _, err := store.Put(ctx, tenant, r, 0, create); err != nil {
				return fmt.Errorf("rules of %s: %w", tenant, err)
			}
			log.InfoContext(ctx, "rule loaded from file", "tenant", tenant, "rule", r.ID)
		}
	}
	return nil
}

// Run connects, ensures the topology and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	gc, err := cfg.globalCap()
	if err != nil {
		return err
	}
	if cfg.Workers < 1 || cfg.Workers > 1024 {
		return fmt.Errorf("config: TRIGGER_WORKERS %d must be between 1 and 1024", cfg.Workers)
	}
	secrets, err := cfg.secrets()
	if err != nil {
		return err
	}
	var pack []rule.Rule
	if cfg.DefaultPack {
		if pack, err = Pack(cfg.PackTimeScale); err != nil {
			return err
		}
	}
	conn, err := broker.Open(ctx, cfg.NATSURL, "trigger", topology.Trigger(cfg.Topology()), log)
	if err != nil {
		return err
	}
	defer conn.CloseWithin(5 * time.Second)

	store, err := adapters.NewRuleStore(ctx, conn.JS, pack)
	if err != nil {
		return err
	}
	if err := loadRulesDir(ctx, cfg.RulesDir, store, log); err != nil {
		return err
	}
	state, err := adapters.NewKVState(ctx, conn.JS)
	if err != nil {
		return err
	}
	timers, err := adapters.NewTimerScheduler(ctx, conn.JS)
	if err != nil {
		return err
	}
	tasks, err := adapters.NewTaskKVStore(ctx, conn.JS)
	if err != nil {
		return err
	}
	pub, err := journeystream.NewPublisher(conn.NC, cfg.StoreTimeout)
	if err != nil {
		return err
	}
	actor, err := adapters.NewActor(conn.JS, pub, tasks, adapters.ActorConfig{WebhookSecrets: secrets, HelpdeskURL: cfg.HelpdeskURL, HTTPTimeout: cfg.StoreTimeout}, time.Now)
	if err != nil {
		return err
	}
	profiles, err := adapters.NewProfileClient(cfg.ProfileAddr)
	if err != nil {
		return err
	}
	defer profiles.Close()
	engine, err := app.NewEngine(store, profiles, timers, state, actor, gc, time.Now)
	if err != nil {
		return err
	}
	events, err := conn.JS.Consumer(ctx, topology.Journey, topology.TriggerConsumer)
	if err != nil {
		return err
	}
	fired, err := conn.JS.Consumer(ctx, topology.TriggerTimers, topology.TriggerTimerConsumer)
	if err != nil {
		return err
	}
	grpcSrv, health := grpcserver.New()
	taskCases, err := registerAPI(grpcSrv, store, timers, tasks, pub, conn)
	if err != nil {
		return err
	}
	defer health.Shutdown()
	reg := admin.NewRegistry()
	if err := journeystream.RegisterMetrics(reg); err != nil {
		return err
	}
	if err := adapters.RegisterMetrics(reg); err != nil {
		return err
	}
	adminSrv := &http.Server{Handler: admin.Profiled(cfg.Profiling, admin.Handler(reg, admin.Check{Name: "nats", Probe: conn.Ready})), ReadHeaderTimeout: 5 * time.Second}

	log.InfoContext(ctx, "trigger serving", "grpc", cfg.GRPCAddr, "admin", cfg.AdminAddr, "pack_rules", len(pack))
	return runner.Run(ctx,
		runner.GRPC("trigger grpc", cfg.GRPCAddr, grpcSrv),
		runner.HTTP("trigger admin", cfg.AdminAddr, adminSrv),
		store.Run,
		sweepOutbox(taskCases, 30*time.Second, log),
		journeystream.WatchLag(events, topology.TriggerConsumer, 5*time.Second),
		journeystream.WatchLag(fired, topology.TriggerTimerConsumer, 5*time.Second),
		func(ctx context.Context) error {
			if err := store.WaitReady(ctx); err != nil {
				return nil
			}
			grpcserver.Serving(health, serviceDescs()...)
			return journeystream.ConsumeConcurrently(ctx, conn.JS, events, journeystream.ConcurrentConfig{
				ConsumeConfig: journeystream.ConsumeConfig{Durable: topology.TriggerConsumer, MaxDeliver: topology.TriggerMaxDeliver,
					Batch: consumeAhead, MaxWait: time.Second, RetryDelay: time.Second},
				Workers: cfg.Workers, Key: ports.CustomerKey}, ports.EventHandler(engine), log)
		},
		func(ctx context.Context) error {
			if err := store.WaitReady(ctx); err != nil {
				return nil
			}
			return ports.ConsumeTimers(ctx, conn.JS, fired, ports.TimerConfig{Durable: topology.TriggerTimerConsumer,
				MaxDeliver: topology.TriggerMaxDeliver, Batch: consumeAhead, MaxWait: time.Second, RetryDelay: time.Second, Workers: cfg.Workers}, engine, log)
		},
	)
}
