package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/config"
)

type svcConfig struct {
	config.Base
	Timeout time.Duration `env:"SVC_TIMEOUT" envDefault:"2s"`
}

func TestLoadNamesTheVariableAtFault(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"duration", "SVC_TIMEOUT", "soon", `SVC_TIMEOUT="soon" is not a valid time.Duration`},
		{"embedded base int", "JOURNEY_REPLICAS", "three", `JOURNEY_REPLICAS="three"`},
		{"log level", "LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"nats url", "NATS_URL", "localhost", "NATS_URL"},
		{"redis url", "REDIS_URL", "http://x", "REDIS_URL"},
		{"replicas range", "JOURNEY_REPLICAS", "7", "between 1 and 5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.key, tc.value)
			var c svcConfig
			err := config.Load(&c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load with %s=%s = %v, want error containing %q", tc.key, tc.value, err, tc.want)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	for _, k := range []string{"NATS_URL", "REDIS_URL", "SVC_TIMEOUT", "JOURNEY_REPLICAS", "LOG_LEVEL"} {
		t.Setenv(k, "") // an empty variable means the default
	}
	var c svcConfig
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "nats://127.0.0.1:4250" || c.RedisURL != "redis://127.0.0.1:6379/0" || c.Timeout != 2*time.Second || c.JourneyReplicas != 1 {
		t.Fatalf("defaults = %+v", c)
	}
}
