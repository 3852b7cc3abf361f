// Package config loads a service's configuration from environment variables
// with documented defaults, and fails fast on anything it cannot use.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/bazgasht/bazgasht/platform/topology"
)

// Base is the configuration every Bazgasht service shares. Services embed it
// in their own config struct; the env tags name the variables.
type Base struct {
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
	// NATSURL is the NATS server the service connects to. The default is the
	// port `make run` starts the pinned nats-server on, not 4222, where an
	// older system server may be listening.
	NATSURL string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4250"`
	// JourneyReplicas is the replica count of the JOURNEY stream (3 in
	// production clusters).
	JourneyReplicas int `env:"JOURNEY_REPLICAS" envDefault:"1"`
	// JourneyDuplicateWindow is how long JetStream remembers event ids.
	JourneyDuplicateWindow time.Duration `env:"JOURNEY_DUPLICATE_WINDOW" envDefault:"2m"`
	// RedisURL is the Redis server used as a cache.
	RedisURL string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	// Profiling serves Go's profiles (/debug/pprof/) on the admin port.
	Profiling bool `env:"ADMIN_PPROF" envDefault:"false"`
}

// Topology is the deployment's JetStream options.
func (b *Base) Topology() topology.Options {
	return topology.Options{Replicas: b.JourneyReplicas, DuplicateWindow: b.JourneyDuplicateWindow}
}

// Load fills cfg (a pointer to a struct with env tags) from the environment
// and validates the shared fields of any embedded Base.
func Load[T any](cfg *T) error {
	if err := env.Parse(cfg); err != nil {
		return fmt.Errorf("config: %w", nameVariables(err, reflect.TypeOf(cfg).Elem()))
	}
	if b, ok := any(cfg).(interface{ base() *Base }); ok {
		return b.base().Validate()
	}
	return nil
}

func (b *Base) base() *Base { return b }

// Logging returns LOG_LEVEL.
func (b *Base) Logging() string { return b.LogLevel }

// nameVariables rewrites env's parse errors, which name Go struct fields,
// to name the environment variables an operator sets.
func nameVariables(err error, t reflect.Type) error {
	vars := map[string]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
				vars[f.Name] = tag
			}
		}
	}
	walk(t)
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && vars[pe.Name] != "" {
			msgs = append(msgs, fmt.Sprintf("%s=%q is not a valid %s: %v", vars[pe.Name], os.Getenv(vars[pe.Name]), pe.Type, pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Validate reports the first variable that holds a value the service cannot use.
func (b *Base) Validate() error {
	if _, err := ParseLevel(b.LogLevel); err != nil {
		return err
	}
	if u, err := url.Parse(b.NATSURL); err != nil || u.Host == "" {
		return fmt.Errorf("config: NATS_URL %q is not a URL such as nats://127.0.0.1:4250", b.NATSURL)
	}
	if u, err := url.Parse(b.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return fmt.Errorf("config: REDIS_URL %q is not a URL such as redis://127.0.0.1:6379/0", b.RedisURL)
	}
	if b.JourneyDuplicateWindow < time.Second || b.JourneyDuplicateWindow > time.Hour {
		return fmt.Errorf("config: JOURNEY_DUPLICATE_WINDOW %s must be between 1s and 1h (the server keeps the ids in memory)", b.JourneyDuplicateWindow)
	}
	if b.JourneyReplicas < 1 || b.JourneyReplicas > 5 {
		return fmt.Errorf("config: JOURNEY_REPLICAS %d must be between 1 and 5", b.JourneyReplicas)
	}
	return nil
}

// ParseLevel turns a LOG_LEVEL value into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("config: LOG_LEVEL %q must be debug, info, warn or error", s)
}
