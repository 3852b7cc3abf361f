package service_test

import (
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"

	"github.com/bazgasht/bazgasht/services/notification/internal/service"
)

func TestConfigValidateNamesTheVariable(t *testing.T) {
	t.Parallel()
	base := map[string]string{"NOTIFICATION_LINK_KEY": "0123456789abcdef", "NOTIFICATION_WEBHOOK_URL": "http://hook", "NOTIFICATION_WEBHOOK_SECRET": "s"}
	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"defaults with a provider", nil, ""},
		{"no link key", map[string]string{"NOTIFICATION_LINK_KEY": ""}, "NOTIFICATION_LINK_KEY"},
		{"short link key", map[string]string{"NOTIFICATION_LINK_KEY": "short"}, "NOTIFICATION_LINK_KEY"},
		{"no provider", map[string]string{"NOTIFICATION_WEBHOOK_URL": ""}, "no provider"},
		{"webhook without secret", map[string]string{"NOTIFICATION_WEBHOOK_SECRET": ""}, "NOTIFICATION_WEBHOOK_SECRET"},
		{"sms without key", map[string]string{"NOTIFICATION_SMS_URL": "http://gw"}, "NOTIFICATION_SMS_API_KEY"},
		{"lease shorter than a call", map[string]string{"NOTIFICATION_ACK_WAIT": "5s", "NOTIFICATION_PROVIDER_TIMEOUT": "10s"}, "NOTIFICATION_ACK_WAIT"},
		{"no workers", map[string]string{"NOTIFICATION_WORKERS": "0"}, "NOTIFICATION_WORKERS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tc.set {
				vars[k] = v
			}
			var cfg service.Config
			if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
