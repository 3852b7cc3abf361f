// Package service wires the notification service together from its
// configuration.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	"github.com/bazgasht/bazgasht/platform/admin"
	"github.com/bazgasht/bazgasht/platform/broker"
	"github.com/bazgasht/bazgasht/platform/config"
	"github.com/bazgasht/bazgasht/platform/grpcserver"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/runner"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
	"github.com/bazgasht/bazgasht/services/notification/internal/ports"
)

// Config is the notification service's configuration; every field is an
// environment variable with the default shown.
type Config struct {
	config.Base
	// GRPCAddr serves cx.notification.v1.NotificationService, health and
	// reflection.
	GRPCAddr string `env:"NOTIFICATION_GRPC_ADDR" envDefault:":9084"`
	// HTTPAddr serves unsubscribe links and SMS delivery reports.
	HTTPAddr string `env:"NOTIFICATION_HTTP_ADDR" envDefault:":8084"`
	// AdminAddr serves /healthz, /readyz and /metrics.
	AdminAddr string `env:"NOTIFICATION_ADMIN_ADDR" envDefault:":7084"`
	// ProfileAddr is the profile service: contact details, locale, time
	// zone, channel preference and consent.
	ProfileAddr string `env:"NOTIFICATION_PROFILE_ADDR" envDefault:"127.0.0.1:9081"`
	// ProfileCacheTTL keeps profiles in memory this long; it bounds how late
	// a withdrawn consent is seen. 0 turns the cache off.
	ProfileCacheTTL time.Duration `env:"NOTIFICATION_PROFILE_CACHE_TTL" envDefault:"5s"`
	// PublicURL is where customers reach NOTIFICATION_HTTP_ADDR; unsubscribe
	// links start with it. Use https in production (RFC 8058).
	PublicURL string `env:"NOTIFICATION_PUBLIC_URL" envDefault:"http://127.0.0.1:8084"`
	// LinkKey signs unsubscribe links (HMAC-SHA256); at least 16 bytes.
	// Required.
	LinkKey string `env:"NOTIFICATION_LINK_KEY"`
	// QuietHours is when marketing is held, in the customer's time zone,
	// "HH:MM-HH:MM"; "off" for none.
	QuietHours string `env:"NOTIFICATION_QUIET_HOURS" envDefault:"22:00-08:00"`
	// FrequencyCap bounds marketing messages per customer across channels
	// and rules, "COUNT/WINDOW"; "off" for none.
	FrequencyCap string `env:"NOTIFICATION_FREQUENCY_CAP" envDefault:"3/168h"`
	// DefaultTimeZone is used for customers whose profile has none.
	DefaultTimeZone string `env:"NOTIFICATION_DEFAULT_TIME_ZONE" envDefault:"Asia/Tehran"`
	// DefaultLocale is used for customers whose profile has none.
	DefaultLocale string `env:"NOTIFICATION_DEFAULT_LOCALE" envDefault:"fa"`
	// Workers is how many notifications are sent at once.
	Workers int `env:"NOTIFICATION_WORKERS" envDefault:"128"`
	// Prefetch is how many requests are pulled ahead of the workers.
	Prefetch int `env:"NOTIFICATION_PREFETCH" envDefault:"512"`
	// AckWait is how long a request stays with one worker before JetStream
	// redelivers it, and the lease of a record being sent; it must outlast
	// ProviderTimeout.
	AckWait time.Duration `env:"NOTIFICATION_ACK_WAIT" envDefault:"30s"`
	// ProviderTimeout bounds one provider call.
	ProviderTimeout time.Duration `env:"NOTIFICATION_PROVIDER_TIMEOUT" envDefault:"10s"`
	// RetryBase and RetryMax bound the exponential backoff (with jitter)
	// after transient provider errors; MaxRetries of them on one channel
	// count as a permanent failure of that channel.
	RetryBase  time.Duration `env:"NOTIFICATION_RETRY_BASE" envDefault:"2s"`
	RetryMax   time.Duration `env:"NOTIFICATION_RETRY_MAX" envDefault:"10m"`
	MaxRetries int           `env:"NOTIFICATION_MAX_RETRIES" envDefault:"8"`
	// Recheck is the longest a held request waits before it is looked at
	// again (the end of quiet hours is recomputed each time).
	Recheck time.Duration `env:"NOTIFICATION_RECHECK" envDefault:"5m"`
	// StoreTimeout bounds one publish or store call.
	StoreTimeout time.Duration `env:"NOTIFICATION_STORE_TIMEOUT" envDefault:"5s"`
	// LedgerTTL is how long the ledger remembers a notification id.
	LedgerTTL time.Duration `env:"NOTIFICATION_LEDGER_TTL" envDefault:"2160h"`

	// SMTPHost turns email on: the SMTP server.
	SMTPHost     string `env:"NOTIFICATION_SMTP_HOST"`
	SMTPPort     int    `env:"NOTIFICATION_SMTP_PORT" envDefault:"25"`
	SMTPUsername string `env:"NOTIFICATION_SMTP_USERNAME"`
	SMTPPassword string `env:"NOTIFICATION_SMTP_PASSWORD"`
	// SMTPTLS is none, opportunistic or mandatory.
	SMTPTLS  string `env:"NOTIFICATION_SMTP_TLS" envDefault:"opportunistic"`
	SMTPFrom string `env:"NOTIFICATION_SMTP_FROM" envDefault:"Bazgasht <no-reply@bazgasht.local>"`

	// SMSURL turns SMS on: the gateway's base URL.
	SMSURL    string `env:"NOTIFICATION_SMS_URL"`
	SMSAPIKey string `env:"NOTIFICATION_SMS_API_KEY"`
	SMSSender string `env:"NOTIFICATION_SMS_SENDER"`
	// SMSCallbackSecret is the last path segment of the delivery-report URL
	// given to the gateway, /sms/delivery/<secret>; empty: reports off.
	SMSCallbackSecret string `env:"NOTIFICATION_SMS_CALLBACK_SECRET"`

	// WebhookURL turns the webhook provider on, for the channels listed in
	// WebhookChannels.
	WebhookURL      string `env:"NOTIFICATION_WEBHOOK_URL"`
	WebhookSecret   string `env:"NOTIFICATION_WEBHOOK_SECRET"`
	WebhookChannels string `env:"NOTIFICATION_WEBHOOK_CHANNELS" envDefault:"webhook,push"`
}

// Validate checks what the environment cannot: links, durations, caps.
func (c *Config) Validate() error {
	switch {
	case len(c.LinkKey) < 16:
		return errors.New("config: NOTIFICATION_LINK_KEY is required, at least 16 bytes (it signs unsubscribe links)")
	case c.AckWait <= c.ProviderTimeout:
		return errors.New("config: NOTIFICATION_ACK_WAIT must be longer than NOTIFICATION_PROVIDER_TIMEOUT")
	case c.Workers < 1 || c.Prefetch < 1:
		return errors.New("config: NOTIFICATION_WORKERS and NOTIFICATION_PREFETCH must be positive")
	case c.RetryBase <= 0 || c.RetryMax < c.RetryBase || c.MaxRetries < 1 || c.Recheck <= 0:
		return errors.New("config: NOTIFICATION_RETRY_BASE, _RETRY_MAX, _MAX_RETRIES and _RECHECK must be positive, max at least base")
	case c.SMTPHost == "" && c.SMSURL == "" && c.WebhookURL == "":
		return errors.New("config: no provider: set NOTIFICATION_SMTP_HOST, NOTIFICATION_SMS_URL or NOTIFICATION_WEBHOOK_URL")
	case c.SMSURL != "" && c.SMSAPIKey == "":
		return errors.New("config: NOTIFICATION_SMS_API_KEY is required with NOTIFICATION_SMS_URL")
	case c.WebhookURL != "" && c.WebhookSecret == "":
		return errors.New("config: NOTIFICATION_WEBHOOK_SECRET is required with NOTIFICATION_WEBHOOK_URL")
	}
	return nil
}

// App is the service's parts, built once and run by Run (or by tests,
// with their own clock).
type App struct {
	Dispatcher *app.Dispatcher
	Requests   *app.Requests
	Templates  *app.Templates
	Reports    *app.Reports
	Links      *adapters.Links
	Unsubs     *adapters.UnsubscribeKV
	GRPC       *ports.GRPC
	HTTP       *ports.HTTP
	Consumer   jetstream.Consumer
	// Deferred consumes requests waiting for quiet hours to end or for a
	// backoff.
	Deferred jetstream.Consumer
	deferral *adapters.Deferral
	profiles *adapters.ProfileClient
}

// Close releases the profile connection.
func (a *App) Close() { _ = a.profiles.Close() }

// Topology is the service's JetStream topology under cfg.
func Topology(cfg Config) topology.Set {
	return topology.Notification(cfg.Topology(), topology.NotificationOptions{AckWait: cfg.AckWait, LedgerTTL: cfg.LedgerTTL})
}

// Build wires the service over an open NATS connection whose topology is
// ensured; now is the clock every rule reads.
func Build(ctx context.Context, cfg Config, nc *nats.Conn, js jetstream.JetStream, reg prometheus.Registerer, now func() time.Time, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metrics, err := adapters.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	quiet, err := notification.ParseQuietHours(cfg.QuietHours)
	if err != nil {
		return nil, fmt.Errorf("config: NOTIFICATION_QUIET_HOURS: %w", err)
	}
	fcap, err := notification.ParseFrequencyCap(cfg.FrequencyCap)
	if err != nil {
		return nil, fmt.Errorf("config: NOTIFICATION_FREQUENCY_CAP: %w", err)
	}
	tz, err := time.LoadLocation(cfg.DefaultTimeZone)
	if err != nil {
		return nil, fmt.Errorf("config: NOTIFICATION_DEFAULT_TIME_ZONE: %w", err)
	}
	providers := map[notification.Channel]app.Provider{}
	if cfg.SMTPHost != "" {
		p, err := adapters.NewSMTPProvider(adapters.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			TLS: cfg.SMTPTLS, From: cfg.SMTPFrom, Timeout: cfg.ProviderTimeout})
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		providers[notification.Email] = metrics.Provider(p)
	}
	if cfg.SMSURL != "" {
		p, err := adapters.NewSMSGateway(cfg.SMSURL, cfg.SMSAPIKey, cfg.SMSSender, cfg.ProviderTimeout)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		providers[notification.SMS] = metrics.Provider(p)
	}
	if cfg.WebhookURL != "" {
		p, err := adapters.NewWebhookProvider(cfg.WebhookURL, []byte(cfg.WebhookSecret), cfg.ProviderTimeout, now)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		for _, c := range strings.Split(cfg.WebhookChannels, ",") {
			ch := notification.Channel(strings.TrimSpace(c))
			if ch == notification.Email || ch == notification.SMS || !ch.Valid() {
				return nil, fmt.Errorf("config: NOTIFICATION_WEBHOOK_CHANNELS: %q is not webhook or push", c)
			}
			providers[ch] = metrics.Provider(p)
		}
	}
	a := &App{}
	ledger, err := adapters.NewLedgerKV(ctx, js)
	if err != nil {
		return nil, err
	}
	store, err := adapters.NewTemplateKVStore(ctx, js)
	if err != nil {
		return nil, err
	}
	if a.Templates, err = app.NewTemplates(store, template.Defaults(), now); err != nil {
		return nil, err
	}
	if a.Unsubs, err = adapters.NewUnsubscribeKV(ctx, js); err != nil {
		return nil, err
	}
	caps, err := adapters.NewCapKV(ctx, js)
	if err != nil {
		return nil, err
	}
	if a.Links, err = adapters.NewLinks([]byte(cfg.LinkKey), cfg.PublicURL); err != nil {
		return nil, fmt.Errorf("config: NOTIFICATION_LINK_KEY: %w", err)
	}
	pub, err := journeystream.NewPublisher(nc, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	journeyEvents, err := adapters.NewJourneyEvents(pub, now)
	if err != nil {
		return nil, err
	}
	events := metrics.Events(journeyEvents)
	if a.profiles, err = adapters.NewProfileClient(cfg.ProfileAddr, cfg.ProfileCacheTTL, cfg.StoreTimeout); err != nil {
		return nil, err
	}
	a.Dispatcher, err = app.NewDispatcher(app.Deps{Ledger: ledger, Templates: a.Templates, Profiles: a.profiles, Unsubscribes: a.Unsubs, Caps: caps,
		Providers: providers, Events: events, Links: a.Links, Now: now, Log: log},
		app.Policy{QuietHours: quiet, FrequencyCap: fcap, DefaultTimeZone: tz, DefaultLocale: cfg.DefaultLocale, Lease: cfg.AckWait,
			RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax, MaxRetries: cfg.MaxRetries, Recheck: cfg.Recheck, ProviderTimeout: cfg.ProviderTimeout})
	if err != nil {
		a.Close()
		return nil, err
	}
	queue, err := adapters.NewQueue(js, cfg.StoreTimeout)
	if err != nil {
		a.Close()
		return nil, err
	}
	if a.Requests, err = app.NewRequests(ledger, queue, now); err != nil {
		a.Close()
		return nil, err
	}
	if a.Reports, err = app.NewReports(ledger, a.Unsubs, events, now); err != nil {
		a.Close()
		return nil, err
	}
	if a.GRPC, err = ports.NewGRPC(a.Requests, a.Templates); err != nil {
		a.Close()
		return nil, err
	}
	if a.HTTP, err = ports.NewHTTP(a.Links, a.Reports, cfg.SMSCallbackSecret, log); err != nil {
		a.Close()
		return nil, err
	}
	if a.Consumer, err = js.Consumer(ctx, topology.NotificationRequests, topology.NotificationConsumer); err != nil {
		a.Close()
		return nil, err
	}
	if a.Deferred, err = js.Consumer(ctx, topology.NotificationDeferred, topology.NotificationDeferredConsumer); err != nil {
		a.Close()
		return nil, err
	}
	if a.deferral, err = adapters.NewDeferral(js, cfg.StoreTimeout); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Consume runs the work-queue and deferred consumers once the unsubscribe
// mirror is complete, so that no send misses an unsubscribe.
func (a *App) Consume(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) error {
	if err := a.Unsubs.WaitReady(ctx); err != nil {
		return nil
	}
	return runner.Run(ctx,
		func(ctx context.Context) error {
			return ports.ConsumeRequests(ctx, js, a.Consumer, ports.ConsumerConfig{Durable: topology.NotificationConsumer, Workers: cfg.Workers,
				Prefetch: cfg.Prefetch, RetryDelay: cfg.RetryBase, Defer: a.deferral}, a.Dispatcher, log)
		},
		func(ctx context.Context) error {
			return ports.ConsumeRequests(ctx, js, a.Deferred, ports.ConsumerConfig{Durable: topology.NotificationDeferredConsumer, Workers: max(cfg.Workers/4, 4),
				Prefetch: cfg.Prefetch, RetryDelay: cfg.RetryBase, Deferred: true}, a.Dispatcher, log)
		},
	)
}

// Run connects, ensures the topology and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	conn, err := broker.Open(ctx, cfg.NATSURL, "notification", Topology(cfg), log)
	if err != nil {
		return err
	}
	defer conn.CloseWithin(5 * time.Second)
	reg := admin.NewRegistry()
	if err := journeystream.RegisterMetrics(reg); err != nil {
		return err
	}
	a, err := Build(ctx, cfg, conn.NC, conn.JS, reg, time.Now, log)
	if err != nil {
		return err
	}
	defer a.Close()
	grpcSrv, health := grpcserver.New()
	notificationv1.RegisterNotificationServiceServer(grpcSrv, a.GRPC)
	defer health.Shutdown()
	httpSrv := &http.Server{Handler: a.HTTP.Handler(), ReadHeaderTimeout: 5 * time.Second}
	adminSrv := &http.Server{Handler: admin.Profiled(cfg.Profiling, admin.Handler(reg, admin.Check{Name: "nats", Probe: conn.Ready},
		admin.Check{Name: "unsubscribes", Probe: a.Unsubs.Ready})), ReadHeaderTimeout: 5 * time.Second}
	log.InfoContext(ctx, "notification serving", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr, "admin", cfg.AdminAddr)
	return runner.Run(ctx,
		runner.GRPC("notification grpc", cfg.GRPCAddr, grpcSrv),
		runner.HTTP("notification http", cfg.HTTPAddr, httpSrv),
		runner.HTTP("notification admin", cfg.AdminAddr, adminSrv),
		a.Unsubs.Run,
		func(ctx context.Context) error {
			if err := a.Unsubs.WaitReady(ctx); err != nil {
				return nil
			}
			grpcserver.Serving(health, notificationv1.NotificationService_ServiceDesc)
			return a.Consume(ctx, conn.JS, cfg, log)
		},
		journeystream.WatchLag(a.Consumer, topology.NotificationConsumer, 5*time.Second),
		journeystream.WatchLag(a.Deferred, topology.NotificationDeferredConsumer, 5*time.Second),
	)
}
