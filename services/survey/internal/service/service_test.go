package service

import (
	"strings"
	"testing"
	"time"
)

func TestConfigRefusesWeakOrMissingSettings(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{LinkKey: strings.Repeat("ab", 32), LinkTTL: time.Hour, FatiguePeriod: 720 * time.Hour, DefaultLocale: "fa", PublicURL: "https://s.example.com", Workers: 32}
	}
	cases := []struct {
		name, want string
		edit       func(*Config)
	}{
		{"no key", "SURVEY_LINK_KEY is required", func(c *Config) { c.LinkKey = "" }},
		{"short hex key", "SURVEY_LINK_KEY is 16 bytes", func(c *Config) { c.LinkKey = strings.Repeat("ab", 16) }},
		{"short base64 key", "SURVEY_LINK_KEY is 6 bytes", func(c *Config) { c.LinkKey = "c2VjcmV0" }},
		{"garbage key", "hex or base64", func(c *Config) { c.LinkKey = "not a key at all!" }},
		{"zero link ttl", "SURVEY_LINK_TTL", func(c *Config) { c.LinkTTL = 0 }},
		{"fatigue beyond the kept records", "SURVEY_FATIGUE_PERIOD", func(c *Config) { c.FatiguePeriod = 500 * 24 * time.Hour }},
		{"german", "SURVEY_DEFAULT_LOCALE", func(c *Config) { c.DefaultLocale = "de" }},
		{"shop names", "SURVEY_SHOP_NAMES", func(c *Config) { c.ShopNames = "demo" }},
		{"public url", "SURVEY_PUBLIC_URL", func(c *Config) { c.PublicURL = "survey.example.com" }},
		{"no workers", "SURVEY_WORKERS", func(c *Config) { c.Workers = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good()
			tc.edit(&c)
			if _, _, err := c.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := good()
	c.ShopNames = "demo=Demo Shop, shop2 = Kala"
	_, shops, err := c.Check()
	if err != nil || shops["demo"] != "Demo Shop" || shops["shop2"] != "Kala" {
		t.Fatalf("Check() = %v, %v", shops, err)
	}
}
