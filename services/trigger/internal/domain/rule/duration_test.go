package rule_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"whole days", "7d", 7 * 24 * time.Hour},
		{"ninety days", "90d", 90 * 24 * time.Hour},
		{"zero days", "0d", 0},
		{"negative days", "-2d", -48 * time.Hour},
		{"go hours", "168h", 168 * time.Hour},
		{"go minutes", "30m", 30 * time.Minute},
		{"go mixed", "1h30m", 90 * time.Minute},
		{"go seconds", "1.5s", 1500 * time.Millisecond},
		{"bare zero", "0", 0},
		{"spaces around", " 7d ", 7 * 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := rule.ParseDuration(c.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", c.in, err)
			}
			if got.Std() != c.want {
				t.Fatalf("ParseDuration(%q) = %v, want %v", c.in, got.Std(), c.want)
			}
		})
	}
}

func TestParseDurationRefuses(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"empty":            "",
		"days and hours":   "1d12h",
		"fractional days":  "1.5d",
		"weeks":            "2w",
		"number only":      "7",
		"words":            "seven days",
		"days overflowing": "999999999d",
		"just a d":         "d",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if d, err := rule.ParseDuration(in); err == nil {
				t.Fatalf("ParseDuration(%q) = %v, want an error", in, d)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"a week", 7 * 24 * time.Hour, "7d"},
		{"ninety days", 90 * 24 * time.Hour, "90d"},
		{"a day and a half", 36 * time.Hour, "36h"},
		{"an hour", time.Hour, "1h"},
		{"hour and a half", 90 * time.Minute, "1h30m"},
		{"minutes", 30 * time.Minute, "30m"},
		{"seconds stay", 10 * time.Second, "10s"},
		{"hours minutes seconds", time.Hour + time.Minute + time.Second, "1h1m1s"},
		{"sub-second", 1500 * time.Millisecond, "1.5s"},
		{"zero", 0, "0s"},
		{"negative days", -7 * 24 * time.Hour, "-7d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := rule.Duration(c.in)
			if got := d.String(); got != c.want {
				t.Fatalf("String() = %q, want %q", got, c.want)
			}
			back, err := rule.ParseDuration(d.String())
			if err != nil || back != d {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v back", d.String(), back, err, c.in)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	type holder struct {
		Delay rule.Duration `json:"delay"`
	}
	cases := []struct {
		name    string
		in      string
		want    time.Duration
		out     string
		wantErr string
	}{
		{name: "days", in: `{"delay":"7d"}`, want: 7 * 24 * time.Hour, out: `{"delay":"7d"}`},
		{name: "go form", in: `{"delay":"168h"}`, want: 168 * time.Hour, out: `{"delay":"7d"}`},
		{name: "hours", in: `{"delay":"1h30m"}`, want: 90 * time.Minute, out: `{"delay":"1h30m"}`},
		{name: "null leaves zero", in: `{"delay":null}`, want: 0, out: `{"delay":"0s"}`},
		{name: "a number is refused", in: `{"delay":604800}`, wantErr: `"7d"`},
		{name: "bad text", in: `{"delay":"a week"}`, wantErr: `"a week"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var h holder
			err := json.Unmarshal([]byte(c.in), &h)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Unmarshal(%s) error = %v, want one mentioning %s", c.in, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", c.in, err)
			}
			if h.Delay.Std() != c.want {
				t.Fatalf("Unmarshal(%s) = %v, want %v", c.in, h.Delay.Std(), c.want)
			}
			out, err := json.Marshal(h)
			if err != nil || string(out) != c.out {
				t.Fatalf("Marshal = %s, %v; want %s", out, err, c.out)
			}
		})
	}
}

func TestDurationYAML(t *testing.T) {
	t.Parallel()
	type holder struct {
		Delay rule.Duration `yaml:"delay,omitempty"`
	}
	cases := []struct {
		name    string
		in      string
		want    time.Duration
		out     string
		wantErr bool
	}{
		{name: "days", in: "delay: 7d\n", want: 7 * 24 * time.Hour, out: "delay: 7d\n"},
		{name: "quoted go form", in: "delay: \"168h\"\n", want: 168 * time.Hour, out: "delay: 7d\n"},
		{name: "minutes", in: "delay: 30m\n", want: 30 * time.Minute, out: "delay: 30m\n"},
		{name: "absent is zero and omitted", in: "{}\n", want: 0, out: "{}\n"},
		{name: "a bare number is refused", in: "delay: 7\n", wantErr: true},
		{name: "nonsense is refused", in: "delay: soon\n", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var h holder
			err := yaml.Unmarshal([]byte(c.in), &h)
			if c.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%q) = %v, want an error", c.in, h.Delay)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", c.in, err)
			}
			if h.Delay.Std() != c.want {
				t.Fatalf("Unmarshal(%q) = %v, want %v", c.in, h.Delay.Std(), c.want)
			}
			out, err := yaml.Marshal(h)
			if err != nil || string(out) != c.out {
				t.Fatalf("Marshal = %q, %v; want %q", out, err, c.out)
			}
		})
	}
}
