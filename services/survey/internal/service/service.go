// Package service wires the survey service together from its
// configuration.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/survey/internal/adapters"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
	"github.com/bazgasht/bazgasht/services/survey/internal/ports"
)

// Config is the survey service's configuration; every field is an
// environment variable with the default shown.
type Config struct {
	config.Base
	// GRPCAddr serves cx.survey.v1.SurveyService, health and reflection.
	GRPCAddr string `env:"SURVEY_GRPC_ADDR" envDefault:":9083"`
	// HTTPAddr serves the response page.
	HTTPAddr string `env:"SURVEY_HTTP_ADDR" envDefault:":8083"`
	// AdminAddr serves /healthz, /readyz and /metrics.
	AdminAddr string `env:"SURVEY_ADMIN_ADDR" envDefault:":7083"`
	// PublicURL is where customers reach the response page; links in
	// invitations start with it.
	PublicURL string `env:"SURVEY_PUBLIC_URL" envDefault:"http://127.0.0.1:8083"`
	// LinkKey signs response links: at least 32 bytes, as hex or base64.
	// Required; there is no default, so no deployment runs on a known key.
	LinkKey string `env:"SURVEY_LINK_KEY"`
	// LinkTTL is how long a link lives when the survey does not say.
	LinkTTL time.Duration `env:"SURVEY_LINK_TTL" envDefault:"720h"`
	// FatiguePeriod: a customer is invited at most once in it, across
	// surveys and channels, unless the invitation is transactional.
	FatiguePeriod time.Duration `env:"SURVEY_FATIGUE_PERIOD" envDefault:"720h"`
	// TapSettle is how long a score from a one-tap link waits before it
	// counts and is published: taps on other scores within it are a mail
	// scanner following every link, and are not recorded.
	TapSettle time.Duration `env:"SURVEY_TAP_SETTLE" envDefault:"10s"`
	// DefaultLocale is used when neither the request nor the profile
	// names one.
	DefaultLocale string `env:"SURVEY_DEFAULT_LOCALE" envDefault:"fa"`
	// ShopNames are display names, "tenant=Name,other=Other name", for
	// surveys whose branding names no shop.
	ShopNames string `env:"SURVEY_SHOP_NAMES"`
	// ProfileAddr is the profile service, for locale, segments and
	// contact details.
	ProfileAddr string `env:"SURVEY_PROFILE_ADDR" envDefault:"127.0.0.1:9081"`
	// ProfileTimeout bounds one profile read.
	ProfileTimeout time.Duration `env:"SURVEY_PROFILE_TIMEOUT" envDefault:"2s"`
	// StoreTimeout bounds one publish.
	StoreTimeout time.Duration `env:"SURVEY_STORE_TIMEOUT" envDefault:"5s"`
	// Workers is how many invitations are handled at once (one customer's
	// in order): each waits on a few broker round trips, so more of them
	// keep up with more invitations a second on a busy broker.
	Workers int `env:"SURVEY_WORKERS" envDefault:"32"`
}

// Check validates the configuration, naming the variable at fault.
func (c *Config) Check() (key []byte, shops map[string]string, err error) {
	if c.LinkKey == "" {
		return nil, nil, errors.New("config: SURVEY_LINK_KEY is required: at least 32 random bytes as hex or base64, such as the output of `openssl rand -hex 32`")
	}
	key, err = token.ParseKey(c.LinkKey)
	if err != nil {
		return nil, nil, errors.New("config: SURVEY_LINK_KEY must be hex or base64")
	}
	if len(key) < token.MinKeyLen {
		return nil, nil, fmt.Errorf("config: SURVEY_LINK_KEY is %d bytes; at least %d are needed", len(key), token.MinKeyLen)
	}
	switch {
	case c.LinkTTL <= 0:
		return nil, nil, errors.New("config: SURVEY_LINK_TTL must be positive")
	case c.TapSettle < 0 || c.TapSettle > time.Hour:
		return nil, nil, errors.New("config: SURVEY_TAP_SETTLE must be between 0 and 1h")
	case c.FatiguePeriod < 0 || c.FatiguePeriod > topology.SurveyFatigueTTL:
		return nil, nil, fmt.Errorf("config: SURVEY_FATIGUE_PERIOD must be between 0 and %v", topology.SurveyFatigueTTL)
	case c.Workers < 1 || c.Workers > 1024:
		return nil, nil, fmt.Errorf("config: SURVEY_WORKERS %d must be between 1 and 1024", c.Workers)
	case c.DefaultLocale != "fa" && c.DefaultLocale != "en":
		return nil, nil, errors.New("config: SURVEY_DEFAULT_LOCALE must be fa or en")
	case !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://"):
		return nil, nil, errors.New("config: SURVEY_PUBLIC_URL must be an http(s) URL")
	}
	shops = map[string]string{}
	for _, part := range strings.Split(c.ShopNames, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		t, name, ok := strings.Cut(part, "=")
		t = strings.TrimSpace(t)
		if !ok || journey.CheckTenant(t) != nil || strings.TrimSpace(name) == "" {
			return nil, nil, errors.New("config: SURVEY_SHOP_NAMES must be tenant=Name pairs separated by commas")
		}
		shops[t] = strings.TrimSpace(name)
	}
	return key, shops, nil
}

// Application is the wired service, without its listeners: the use
// cases, the handlers and the loops to run.
type Application struct {
	App   *app.App
	Index *kpi.Index
	GRPC  *ports.GRPC
	Page  *ports.Page
	// Ready is closed when the KPI index holds every stored invitation.
	Ready chan struct{}

	invs     *adapters.InvitationKVStore
	profiles *adapters.ProfileClient
	log      *slog.Logger
	mu       sync.Mutex
	// pending are the answers stored but not yet published, since when.
	pending map[[2]string]time.Time
}

// NewApplication wires the service over a connection whose topology is
// ensured.
func NewApplication(ctx context.Context, cfg Config, nc *nats.Conn, js jetstream.JetStream, now func() time.Time, log *slog.Logger) (*Application, error) {
	key, shops, err := cfg.Check()
	if err != nil {
		return nil, err
	}
	signer, err := token.NewSigner(key)
	if err != nil {
		return nil, err
	}
	defs, err := adapters.NewDefinitionKVStore(ctx, js)
	if err != nil {
		return nil, err
	}
	invs, err := adapters.NewInvitationKVStore(ctx, js)
	if err != nil {
		return nil, err
	}
	fatigue, err := adapters.NewFatigueKVStore(ctx, js)
	if err != nil {
		return nil, err
	}
	pub, err := journeystream.NewPublisher(nc, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	out, err := adapters.NewOutbox(js, pub, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	profiles, err := adapters.NewProfileClient(cfg.ProfileAddr)
	if err != nil {
		return nil, err
	}
	index := kpi.NewIndex()
	a, err := app.New(app.Config{PublicURL: cfg.PublicURL, FatiguePeriod: cfg.FatiguePeriod, TapSettle: cfg.TapSettle, LinkTTL: cfg.LinkTTL, DefaultLocale: cfg.DefaultLocale,
		ShopNames: shops, ProfileTimeout: cfg.ProfileTimeout}, defs, invs, fatigue, profiles, out, signer, index, now)
	if err != nil {
		profiles.Close()
		return nil, err
	}
	g, err := ports.NewGRPC(a)
	if err != nil {
		return nil, err
	}
	page, err := ports.NewPage(a, log)
	if err != nil {
		return nil, err
	}
	return &Application{App: a, Index: index, GRPC: g, Page: page, Ready: make(chan struct{}), invs: invs, profiles: profiles, log: log, pending: map[[2]string]time.Time{}}, nil
}

// Close releases the profile connection.
func (s *Application) Close() { s.profiles.Close() }

// Register adds the gRPC API to srv.
func (s *Application) Register(srv *grpc.Server) { surveyv1.RegisterSurveyServiceServer(srv, s.GRPC) }

// WatchIndex fills the KPI index from the invitation store and keeps it up
// to date until ctx ends. Once the stored invitations are in, it closes
// Ready and, then every republishInterval, publishes the answers a crash or
// a broker outage left stored but unpublished.
func (s *Application) WatchIndex(ctx context.Context) error {
	var once sync.Once
	return s.invs.Watch(ctx, func(inv invitation.Invitation) {
		s.App.Index(inv)
		key := [2]string{inv.Tenant, inv.ID}
		s.mu.Lock()
		if app.Unpublished(inv) {
			if _, ok := s.pending[key]; !ok {
				s.pending[key] = time.Now()
			}
		} else {
			delete(s.pending, key) // published since, or never needed
		}
		s.mu.Unlock()
	}, func() {
		once.Do(func() {
			close(s.Ready)
			go s.republishLoop(ctx)
		})
	})
}

// republishInterval is how often answers left unpublished are published;
// republishGrace keeps the loop off answers whose publish is in flight.
const (
	republishInterval = 5 * time.Second
	republishGrace    = 5 * time.Second
)

func (s *Application) republishLoop(ctx context.Context) {
	s.sweep(ctx, 0) // at start-up, everything left over
	t := time.NewTicker(republishInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep(ctx, republishGrace)
		}
	}
}

// sweep publishes the answers unpublished for longer than grace.
func (s *Application) sweep(ctx context.Context, grace time.Duration) {
	s.mu.Lock()
	var due [][2]string
	for k, since := range s.pending {
		if time.Since(since) >= grace {
			due = append(due, k)
		}
	}
	s.mu.Unlock()
	for _, p := range due {
		if err := s.App.Republish(ctx, p[0], p[1]); err != nil {
			s.log.WarnContext(ctx, "republishing an answer failed; retried later", "invitation", p[1], "err", err)
		}
	}
}

func (s *Application) ready(context.Context) error {
	select {
	case <-s.Ready:
		return nil
	default:
		return errors.New("KPI index still loading")
	}
}

// Run connects, ensures the topology and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if _, _, err := cfg.Check(); err != nil {
		return err
	}
	conn, err := broker.Open(ctx, cfg.NATSURL, "survey", topology.Survey(cfg.Topology()), log)
	if err != nil {
		return err
	}
	defer conn.CloseWithin(5 * time.Second)
	s, err := NewApplication(ctx, cfg, conn.NC, conn.JS, time.Now, log)
	if err != nil {
		return err
	}
	defer s.Close()
	invites, err := conn.JS.Consumer(ctx, topology.SurveyInvitations, topology.SurveyConsumer)
	if err != nil {
		return err
	}
	outcomes, err := conn.JS.Consumer(ctx, topology.Journey, topology.SurveyOutcomesConsumer)
	if err != nil {
		return err
	}
	grpcSrv, health := grpcserver.New()
	s.Register(grpcSrv)
	defer health.Shutdown()
	pageSrv := &http.Server{Handler: s.Page.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second, MaxHeaderBytes: 16 << 10}
	reg := admin.NewRegistry()
	if err := journeystream.RegisterMetrics(reg); err != nil {
		return err
	}
	adminSrv := &http.Server{Handler: admin.Profiled(cfg.Profiling, admin.Handler(reg, admin.Check{Name: "nats", Probe: conn.Ready}, admin.Check{Name: "kpi-index", Probe: s.ready})), ReadHeaderTimeout: 5 * time.Second}

	log.InfoContext(ctx, "survey serving", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr, "admin", cfg.AdminAddr)
	return runner.Run(ctx,
		runner.GRPC("survey grpc", cfg.GRPCAddr, grpcSrv),
		runner.HTTP("survey page", cfg.HTTPAddr, pageSrv),
		runner.HTTP("survey admin", cfg.AdminAddr, adminSrv),
		s.WatchIndex,
		func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case <-s.Ready:
			}
			grpcserver.Serving(health, surveyv1.SurveyService_ServiceDesc)
			return ports.ConsumeInvitations(ctx, conn.JS, invites, ports.InviteConsumerConfig{Durable: topology.SurveyConsumer,
				MaxDeliver: topology.SurveyMaxDeliver, Batch: 8, MaxWait: time.Second, RetryDelay: time.Second, Workers: cfg.Workers}, s.App, log)
		},
		journeystream.WatchLag(invites, topology.SurveyConsumer, 5*time.Second),
		func(ctx context.Context) error {
			return journeystream.Consume(ctx, conn.JS, outcomes, journeystream.ConsumeConfig{Durable: topology.SurveyOutcomesConsumer,
				MaxDeliver: topology.SurveyMaxDeliver, Batch: 100, MaxWait: time.Second, RetryDelay: time.Second}, ports.OutcomeHandler(s.App), log)
		},
		journeystream.WatchLag(outcomes, topology.SurveyOutcomesConsumer, 5*time.Second),
	)
}
